"""Partial rebuild (`sem rebuild pipeline ID`: POST pipelines/ID/partial_rebuild?request_token=
with an empty body): failed and stopped blocks run again with their dependents, passed
blocks stay passed, and one request token makes one new pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

YAML = pipeline_yaml(
    block("Build", "compile", extra="    dependencies: []\n"),
    block("Unit", "unit-a", "unit-b", extra="    dependencies: [Build]\n"),
    block("Lint", "lint", extra="    dependencies: [Build]\n"),
    block("Deploy", "deploy", extra="    dependencies: [Unit, Lint]\n"),
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, YAML)
    yield made
    await made.close()


async def sem_rebuild(rig: EngineRig, ppl_id: str, token: str) -> httpx.Response:
    # the CLI posts an empty body with Content-Type: application/json
    return await rig.api.post(
        f"{API}/pipelines/{ppl_id}/partial_rebuild?request_token={token}",
        content=b"",
        headers={"Content-Type": "application/json"},
    )


async def test_rebuild_reruns_the_failed_block_and_its_dependents_only(rig: EngineRig) -> None:
    ids = await rig.run()
    first_run = await rig.run_jobs({"unit-b": "failed"})
    assert sorted(first_run) == ["compile", "lint", "unit-a", "unit-b"]
    assert await rig.state(ids["pipeline_id"]) == ("done", "failed", "test")
    original_jobs = await rig.jobs(ids["pipeline_id"])

    response = await sem_rebuild(rig, ids["pipeline_id"], "token-1")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"message", "pipeline_id"}
    new_id = response.json()["pipeline_id"]
    assert new_id != ids["pipeline_id"]

    rerun = await rig.run_jobs()
    assert sorted(rerun) == ["deploy", "unit-a", "unit-b"]  # Build and Lint passed before
    assert await rig.state(new_id) == ("done", "passed", "test")

    body = await rig.pipeline(new_id)
    assert body["pipeline"]["wf_id"] == ids["workflow_id"]
    assert body["pipeline"]["partial_rerun_of"] == ids["pipeline_id"]
    assert body["pipeline"]["triggerer"]["ppl_triggered_by"] == 3  # PARTIAL_RE_RUN
    assert body["pipeline"]["triggerer"]["ppl_triggerer_id"] == ids["pipeline_id"]
    blocks = {b["name"]: (b["state"], b["result"]) for b in body["blocks"]}
    assert blocks == dict.fromkeys(("Build", "Unit", "Lint", "Deploy"), ("done", "passed"))
    # a kept block shows the jobs that passed it in the original pipeline
    new_jobs = await rig.jobs(new_id)
    assert new_jobs["compile"]["job_id"] == original_jobs["compile"]["job_id"]
    assert new_jobs["lint"]["job_id"] == original_jobs["lint"]["job_id"]
    assert new_jobs["unit-b"]["job_id"] != original_jobs["unit-b"]["job_id"]

    again = await sem_rebuild(rig, ids["pipeline_id"], "token-1")
    assert again.status_code == 200, again.text
    assert again.json()["pipeline_id"] == new_id
    listed = await rig.api.get(f"{API}/pipelines", params={"wf_id": ids["workflow_id"]})
    assert len(listed.json()) == 2


async def test_a_stopped_pipeline_is_rebuilt_from_its_stopped_block(rig: EngineRig) -> None:
    ids = await rig.run()
    await rig.settle()
    build = await rig.take()
    await build.report("passed")
    await rig.settle()
    stopped = await rig.api.patch(
        f"{API}/pipelines/{ids['pipeline_id']}", json={"terminate_request": True}
    )
    assert stopped.status_code == 200, stopped.text
    await rig.run_jobs({"unit-a": "stopped", "unit-b": "stopped", "lint": "stopped"})
    state, result, _ = await rig.state(ids["pipeline_id"])
    assert (state, result) == ("done", "stopped")

    response = await sem_rebuild(rig, ids["pipeline_id"], "t")
    assert response.status_code == 200, response.text
    rerun = await rig.run_jobs()
    assert "compile" not in rerun
    assert "deploy" in rerun
    assert (await rig.state(response.json()["pipeline_id"]))[:2] == ("done", "passed")


async def test_only_a_done_pipeline_that_did_not_pass_can_be_rebuilt(rig: EngineRig) -> None:
    ids = await rig.run()
    await rig.settle()
    running = await sem_rebuild(rig, ids["pipeline_id"], "early")
    assert running.status_code == 400
    assert "done state" in running.json()["message"]

    await rig.run_jobs()
    passed = await sem_rebuild(rig, ids["pipeline_id"], "late")
    assert passed.status_code == 400
    assert "passed can not be partial rebuilt" in passed.json()["message"]

    no_token = await rig.api.post(f"{API}/pipelines/{ids['pipeline_id']}/partial_rebuild")
    assert no_token.status_code == 400
    assert "request_token" in no_token.json()["message"]
    unknown = await sem_rebuild(rig, "00000000-0000-0000-0000-000000000000", "x")
    assert unknown.status_code == 404


async def test_rebuilding_a_deployment_asks_its_target_again(rig: EngineRig) -> None:
    deploy = pipeline_yaml(block("Deploy", "deploy", extra="    dependencies: []\n"))
    rig.repo.commit(
        {
            ".semaphore/semaphore.yml": YAML
            + "promotions:\n  - name: Prod\n    pipeline_file: deploy.yml\n"
            + "    deployment_target: prod\n",
            ".semaphore/deploy.yml": deploy,
        },
        "deploy",
    )
    target = await rig.api.post(
        f"{API}/deployment_targets",
        params={"project_id": rig.project_id},
        json={"name": "prod", "unique_token": "t-prod"},
    )
    assert target.status_code == 200, target.text
    ids = await rig.run()
    await rig.run_jobs()
    promoted = await rig.api.post(
        f"{API}/promotions", json={"pipeline_id": ids["pipeline_id"], "name": "Prod"}
    )
    assert promoted.status_code == 200, promoted.text
    await rig.run_jobs({"deploy": "failed"})
    (deployment, _) = (
        await rig.api.get(f"{API}/pipelines", params={"wf_id": ids["workflow_id"]})
    ).json()
    assert (deployment["result"], deployment["promotion_of"]) == ("FAILED", ids["pipeline_id"])

    await rig.api.patch(f"{API}/deployment_targets/{target.json()['id']}/deactivate")
    refused = await sem_rebuild(rig, deployment["ppl_id"], "r1")
    assert refused.status_code == 403
    assert "deactivated" in refused.json()["message"]

    await rig.api.patch(f"{API}/deployment_targets/{target.json()['id']}/activate")
    allowed = await sem_rebuild(rig, deployment["ppl_id"], "r2")
    assert allowed.status_code == 200, allowed.text
    assert await rig.run_jobs() == ["deploy"]
    rebuilt = (await rig.pipeline(allowed.json()["pipeline_id"], detailed=False))["pipeline"]
    assert (rebuilt["result"], rebuilt["promotion_of"]) == ("passed", ids["pipeline_id"])


async def test_a_members_rebuild_is_held_to_the_embedded_agent_policy_as_its_own_run(
    rig: EngineRig, alice: httpx.AsyncClient
) -> None:
    member = await rig.api.post(
        f"{API}/projects/{rig.project_id}/members", json={"username": "alice"}
    )
    assert member.status_code in (200, 201), member.text
    ids = await rig.run()
    await rig.run_jobs({"compile": "failed"})

    # an administrator's pipeline on the embedded agents' type, rebuilt by a member
    rebuilt = await alice.post(
        f"{API}/pipelines/{ids['pipeline_id']}/partial_rebuild?request_token=a"
    )
    assert rebuilt.status_code == 200, rebuilt.text
    await rig.settle()
    body = (await rig.pipeline(rebuilt.json()["pipeline_id"], detailed=False))["pipeline"]
    assert (body["state"], body["result"], body["result_reason"]) == (
        "done",
        "failed",
        "malformed",
    )
    assert "BLOCKPOST_EMBEDDED_AGENT_USERS" in body["error_description"]
