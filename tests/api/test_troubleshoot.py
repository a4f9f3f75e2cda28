"""`sem troubleshoot workflow|pipeline|job ID`: GET /api/v1alpha/troubleshoot/{kind}/{id} in
the shape of Semaphore's public API (the CLI prints it as YAML)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}Z$")
WORKFLOW_KEYS = {
    "wf_id", "initial_ppl_id", "hook_id", "requester_id", "branch_id", "branch_name",
    "commit_sha", "created_at", "triggered_by", "rerun_of", "repository_id",
}  # fmt: skip
PIPELINE_KEYS = {
    "ppl_id", "name", "created_at", "pending_at", "queuing_at", "running_at", "stopping_at",
    "done_at", "state", "result", "result_reason", "terminate_request", "error_description",
    "switch_id", "working_directory", "yaml_file_name", "terminated_by", "queue_id",
    "queue_name", "queue_scope", "queue_type", "promotion_of", "partial_rerun_of",
    "partially_rerun_by",
}  # fmt: skip
BLOCK_KEYS = {
    "block_id", "name", "build_req_id", "state", "result", "result_reason", "error_description",
}  # fmt: skip
JOB_KEYS = {
    "id", "build_req_id", "name", "state", "failure_reason", "is_debug_job", "is_self_hosted",
    "machine_type", "os_image", "agent_name", "created_at", "enqueued_at", "started_at",
    "finished_at", "priority",
}  # fmt: skip


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


async def test_sem_troubleshoot_workflow(rig: EngineRig) -> None:
    ids = await rig.run()
    response = await rig.api.get(f"{API}/troubleshoot/workflow/{ids['workflow_id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"project", "workflow"}
    assert body["project"]["id"] == rig.project_id
    assert set(body["project"]) == {"id", "organization_id"}
    workflow = body["workflow"]
    assert set(workflow) == WORKFLOW_KEYS
    assert workflow["wf_id"] == ids["workflow_id"]
    assert workflow["initial_ppl_id"] == ids["pipeline_id"]
    assert workflow["commit_sha"] == rig.repo.git("rev-parse", "HEAD")
    assert (workflow["triggered_by"], workflow["rerun_of"]) == ("api", "")
    assert TIME.match(workflow["created_at"])


async def test_sem_troubleshoot_pipeline_with_the_clis_double_slash(rig: EngineRig) -> None:
    ids = await rig.run()
    await rig.settle()
    # the CLI asks for "troubleshoot/pipeline/" + "/" + id
    response = await rig.api.get(f"{API}/troubleshoot/pipeline//{ids['pipeline_id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"project", "workflow", "pipeline"}
    pipeline = body["pipeline"]
    assert set(pipeline) == PIPELINE_KEYS | {"blocks"}
    assert (pipeline["state"], pipeline["result"], pipeline["result_reason"]) == ("running", "", "")
    assert pipeline["done_at"] == ""
    assert TIME.match(pipeline["running_at"])
    assert (pipeline["yaml_file_name"], pipeline["working_directory"]) == (
        "semaphore.yml",
        ".semaphore",
    )
    (only,) = pipeline["blocks"]
    assert set(only) == BLOCK_KEYS
    assert (only["name"], only["state"], only["result"]) == ("Build", "running", "")

    await rig.run_jobs()
    plain = await rig.api.get(f"{API}/troubleshoot/pipeline/{ids['pipeline_id']}")
    assert plain.status_code == 200, plain.text
    assert (plain.json()["pipeline"]["state"], plain.json()["pipeline"]["result"]) == (
        "done",
        "passed",
    )


async def test_sem_troubleshoot_job(rig: EngineRig) -> None:
    ids = await rig.run()
    await rig.run_jobs({"compile": "failed"})
    (job,) = (await rig.jobs(ids["pipeline_id"])).values()
    response = await rig.api.get(f"{API}/troubleshoot/job/{job['job_id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"project", "workflow", "pipeline", "block", "job"}
    assert set(body["workflow"]) == WORKFLOW_KEYS | {"project_id"}
    assert set(body["pipeline"]) == PIPELINE_KEYS
    assert set(body["block"]) == BLOCK_KEYS
    assert set(body["job"]) == JOB_KEYS
    assert body["block"]["build_req_id"] == body["job"]["build_req_id"]
    assert (body["block"]["state"], body["block"]["result"]) == ("done", "failed")
    assert (body["job"]["id"], body["job"]["name"], body["job"]["state"]) == (
        job["job_id"],
        "compile",
        "finished",
    )
    assert body["job"]["machine_type"] == "e1-standard-2"
    assert body["job"]["agent_name"] != ""
    assert all(TIME.match(body["job"][key]) for key in ("created_at", "started_at", "finished_at"))


async def test_troubleshooting_what_does_not_exist_or_is_hidden_is_404(
    rig: EngineRig, alice: httpx.AsyncClient
) -> None:
    ids = await rig.run()
    unknown = "00000000-0000-0000-0000-000000000000"
    for kind in ("workflow", "pipeline", "job"):
        response = await rig.api.get(f"{API}/troubleshoot/{kind}/{unknown}")
        assert response.status_code == 404, (kind, response.text)
        assert "message" in response.json()
    for kind, key in (("workflow", "workflow_id"), ("pipeline", "pipeline_id")):
        hidden = await alice.get(f"{API}/troubleshoot/{kind}/{ids[key]}")
        assert hidden.status_code == 404, (kind, hidden.text)
