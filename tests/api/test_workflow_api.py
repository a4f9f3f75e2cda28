"""Workflow, pipeline and secret endpoints: shapes as Semaphore's, filters, pages, bad input."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

CUSTOM_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}Z$")
PIPELINE_KEYS = {
    "yaml_file_name", "working_directory", "wf_id", "terminated_by", "terminate_request",
    "switch_id", "stopping_at", "state", "snapshot_id", "running_at", "result_reason", "result",
    "queuing_at", "project_id", "ppl_id", "pending_at", "name", "hook_id", "error_description",
    "done_at", "created_at", "commit_sha", "branch_name", "branch_id", "promotion_of",
    "partial_rerun_of", "partially_rerun_by", "commit_message", "triggerer",
}  # fmt: skip
TIMES = {"stopping_at", "running_at", "queuing_at", "pending_at", "done_at", "created_at"}
BLOCK_KEYS = {
    "state", "result_reason", "result", "name", "jobs", "error_description", "build_req_id",
    "block_id",
}  # fmt: skip
BLOCK_JOB_KEYS = {"status", "result", "name", "job_id", "index"}
WORKFLOW_KEYS = {
    "wf_id", "requester_id", "project_id", "initial_ppl_id", "hook_id", "created_at",
    "commit_sha", "branch_name", "branch_id", "triggered_by", "rerun_of",
}  # fmt: skip
SECRET_ENV = "s3cr3t-value-that-must-not-leak"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


def is_seconds_nanos(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"seconds", "nanos"}
        and all(isinstance(v, int) for v in value.values())
    )


async def test_every_shape_matches_semaphores(rig: EngineRig) -> None:
    ids = await rig.run()
    await rig.run_jobs()
    sha = rig.repo.git("rev-parse", "HEAD")

    described = await rig.pipeline(ids["pipeline_id"])
    assert set(described) == {"pipeline", "blocks"}
    pipeline = described["pipeline"]
    assert set(pipeline) == PIPELINE_KEYS
    assert all(CUSTOM_TIME.match(pipeline[key]) for key in TIMES)
    assert pipeline["stopping_at"] == "1970-01-01 00:00:00.000000Z"  # never stopped
    assert (pipeline["state"], pipeline["result"], pipeline["result_reason"]) == (
        "done",
        "passed",
        "test",
    )
    assert pipeline["yaml_file_name"] == "semaphore.yml"
    assert pipeline["working_directory"] == ".semaphore"
    assert pipeline["wf_id"] == ids["workflow_id"]
    assert pipeline["ppl_id"] == ids["pipeline_id"]
    assert pipeline["hook_id"] == ids["hook_id"]
    assert pipeline["commit_sha"] == sha
    assert pipeline["branch_name"] == "master"
    assert pipeline["terminate_request"] == pipeline["error_description"] == ""
    (only,) = described["blocks"]
    assert set(only) == BLOCK_KEYS
    assert (only["state"], only["result"], only["result_reason"]) == ("done", "passed", "test")
    (job,) = only["jobs"]
    assert set(job) == BLOCK_JOB_KEYS
    assert (job["status"], job["result"], job["index"]) == ("FINISHED", "PASSED", 0)

    brief = await rig.pipeline(ids["pipeline_id"], detailed=False)
    assert brief["blocks"] == []
    assert brief["pipeline"] == pipeline

    listed = await rig.api.get(f"{API}/pipelines", params={"project_id": rig.project_id})
    (row,) = listed.json()
    assert set(row) == PIPELINE_KEYS
    assert all(is_seconds_nanos(row[key]) for key in TIMES)
    assert row["stopping_at"] == {"seconds": 0, "nanos": 0}
    assert (row["state"], row["result"], row["result_reason"]) == ("DONE", "PASSED", "TEST")

    workflow = (await rig.api.get(f"{API}/plumber-workflows/{ids['workflow_id']}")).json()
    assert set(workflow) == {"workflow"}
    assert set(workflow["workflow"]) == WORKFLOW_KEYS
    assert is_seconds_nanos(workflow["workflow"]["created_at"])
    assert workflow["workflow"]["initial_ppl_id"] == ids["pipeline_id"]
    assert workflow["workflow"]["commit_sha"] == sha
    wf_list = await rig.api.get(f"{API}/plumber-workflows", params={"project_id": rig.project_id})
    # Semaphore's list answers the raw message: triggered_by as the enum's number (API: 2)
    assert wf_list.json() == [{**workflow["workflow"], "triggered_by": 2}]

    job_body = (await rig.api.get(f"{API}/jobs/{job['job_id']}")).json()
    assert job_body["status"]["state"] == "FINISHED"
    assert job_body["status"]["result"] == "PASSED"


async def test_run_accepts_a_form_body_like_the_curl_example(rig: EngineRig) -> None:
    response = await rig.api.post(
        f"{API}/plumber-workflows",
        data={"project_id": "rig", "reference": "refs/heads/master"},
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"workflow_id", "pipeline_id", "hook_id"}


async def test_lists_filter_and_page_with_link_headers(rig: EngineRig) -> None:
    rig.repo.checkout("feature", new=True)
    rig.repo.commit({".semaphore/other.yml": pipeline_yaml(block("B", "b"))}, "other file")
    before = int(time.time()) - 1
    master = [await rig.run() for _ in range(3)]
    feature = await rig.run("refs/heads/feature", pipeline_file=".semaphore/other.yml")
    await rig.run_jobs()

    async def listed(path: str, **params: Any) -> httpx.Response:
        response = await rig.api.get(f"{API}/{path}", params=params)
        assert response.status_code == 200, response.text
        return response

    page1 = await listed("pipelines", project_id=rig.project_id, page_size=2)
    assert len(page1.json()) == 2
    assert 'rel="next"' in page1.headers["link"]
    assert "page=2" in page1.headers["link"]
    page2 = await listed("pipelines", project_id=rig.project_id, page_size=2, page=2)
    assert 'rel="prev"' in page2.headers["link"]
    assert 'rel="next"' not in page2.headers["link"]
    seen = [p["ppl_id"] for p in page1.json() + page2.json()]
    assert seen == [feature["pipeline_id"], *(m["pipeline_id"] for m in reversed(master))]

    by_branch = await listed("pipelines", project_id=rig.project_id, branch_name="feature")
    assert [p["ppl_id"] for p in by_branch.json()] == [feature["pipeline_id"]]
    by_file = await listed(
        "pipelines", project_id=rig.project_id, yml_file_path=".semaphore/other.yml"
    )
    assert [p["ppl_id"] for p in by_file.json()] == [feature["pipeline_id"]]
    by_wf = await listed("pipelines", wf_id=master[0]["workflow_id"])
    assert [p["ppl_id"] for p in by_wf.json()] == [master[0]["pipeline_id"]]
    after = await listed("pipelines", project_id=rig.project_id, created_after=before)
    assert len(after.json()) == 4
    assert (
        await listed("pipelines", project_id=rig.project_id, created_before=before)
    ).json() == []
    done = await listed("pipelines", project_id=rig.project_id, done_after=before)
    assert len(done.json()) == 4
    assert (await listed("pipelines", project_id=rig.project_id, done_before=before)).json() == []

    workflows = await listed("plumber-workflows", project_id=rig.project_id, branch_name="master")
    assert [w["wf_id"] for w in workflows.json()] == [m["workflow_id"] for m in reversed(master)]
    paged = await listed("plumber-workflows", project_id=rig.project_id, page_size=1)
    assert len(paged.json()) == 1
    assert 'rel="next"' in paged.headers["link"]


async def test_bad_list_and_describe_input_is_a_clear_4xx(rig: EngineRig) -> None:
    cases = [
        ("pipelines", {}, 400, "project_id"),
        ("pipelines", {"project_id": "rig", "created_after": "yesterday"}, 400, "created_after"),
        ("pipelines", {"project_id": "rig", "done_before": -5}, 400, "done_before"),
        ("pipelines", {"project_id": "rig", "page_size": 0}, 400, "page_size"),
        ("pipelines", {"wf_id": "nope"}, 404, "workflow"),
        ("plumber-workflows", {}, 400, "project_id"),
        ("plumber-workflows", {"project_id": "nope"}, 404, "project"),
    ]
    for path, params, status, word in cases:
        response = await rig.api.get(f"{API}/{path}", params=params)
        assert response.status_code == status, (path, params, response.text)
        assert word in response.json()["message"], (path, params, response.text)
    for path in ("pipelines/nope", "plumber-workflows/nope"):
        response = await rig.api.get(f"{API}/{path}")
        assert response.status_code == 404
        assert "not found" in response.json()["message"]


async def test_other_users_cannot_see_or_touch_workflows(
    rig: EngineRig, bob: httpx.AsyncClient
) -> None:
    ids = await rig.run()
    calls = [
        ("GET", f"{API}/pipelines/{ids['pipeline_id']}", None),
        ("PATCH", f"{API}/pipelines/{ids['pipeline_id']}", {"terminate_request": True}),
        ("GET", f"{API}/plumber-workflows/{ids['workflow_id']}", None),
        ("POST", f"{API}/plumber-workflows/{ids['workflow_id']}/terminate", None),
        ("POST", f"{API}/plumber-workflows/{ids['workflow_id']}/reschedule?request_token=x", None),
        ("GET", f"{API}/pipelines?wf_id={ids['workflow_id']}", None),
        ("GET", f"{API}/pipelines?project_id={rig.project_id}", None),
    ]
    for method, url, body in calls:
        response = await bob.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)
    run = await bob.post(
        f"{API}/plumber-workflows",
        json={"project_id": rig.project_id, "reference": "refs/heads/master"},
    )
    assert run.status_code == 404


async def test_secrets_reach_jobs_sealed_and_never_show_in_lists_or_job_describe(
    rig: EngineRig, alice: httpx.AsyncClient
) -> None:
    content = base64.b64encode(b"key material").decode()
    created = await rig.api.post(
        "/api/v1beta/secrets",
        json={
            "apiVersion": "v1beta",
            "kind": "Secret",
            "metadata": {"name": "deploy-keys"},
            "data": {
                "env_vars": [{"name": "API_KEY", "value": SECRET_ENV}],
                "files": [{"path": ".ssh/id_test", "content": content}],
            },
        },
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["metadata"]["name"] == "deploy-keys"
    assert re.fullmatch(r"\d+", body["metadata"]["create_time"])
    project_scoped = await rig.api.post(
        "/api/v1beta/projects/rig/secrets",
        json={
            "metadata": {"name": "deploy-keys"},
            "data": {"env_vars": [{"name": "API_KEY", "value": "project-wins"}]},
        },
    )
    assert project_scoped.status_code == 200, project_scoped.text
    listing = await rig.api.get("/api/v1beta/secrets")
    assert SECRET_ENV not in listing.text
    assert "a2V5" not in listing.text
    assert listing.json()["secrets"][0]["data"]["env_vars"] == [{"name": "API_KEY"}]
    described = await rig.api.get("/api/v1beta/secrets/deploy-keys")
    assert described.json()["data"]["env_vars"] == [{"name": "API_KEY", "value": SECRET_ENV}]
    assert (await alice.get("/api/v1beta/secrets/deploy-keys")).status_code == 403
    assert (
        await alice.post("/api/v1beta/secrets", json={"metadata": {"name": "x"}})
    ).status_code == 403
    dup = await rig.api.post("/api/v1beta/secrets", json={"metadata": {"name": "deploy-keys"}})
    assert dup.status_code == 409

    rig.repo.commit(
        {
            ".semaphore/semaphore.yml": pipeline_yaml(
                "  - name: Uses\n    task:\n      secrets:\n        - name: deploy-keys\n"
                "      jobs:\n        - name: j\n          commands: [echo]\n"
            )
        }
    )
    # the project's own secret wins; delete it to get the global one
    assert (await rig.api.delete("/api/v1beta/projects/rig/secrets/deploy-keys")).status_code == 200
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    taken = await rig.take()
    env = {e["name"]: base64.b64decode(e["value"]).decode() for e in taken.payload["env_vars"]}
    assert env["API_KEY"] == SECRET_ENV
    assert taken.payload["files"] == [{"path": ".ssh/id_test", "content": content, "mode": "0644"}]
    job = await rig.api.get(f"{API}/jobs/{taken.id}")
    assert SECRET_ENV not in job.text
    assert job.json()["spec"]["secrets"] == [{"name": "deploy-keys"}]
    logger = taken.payload["logger"]
    printed = [
        {"event": "cmd_started", "timestamp": 1, "directive": f"curl -u {SECRET_ENV} host"},
        {
            "event": "cmd_output",
            "timestamp": 1,
            "output": f"key={SECRET_ENV}; again {SECRET_ENV}\n",
        },
        {"event": "cmd_output", "timestamp": 1, "output": "nothing secret\n"},
    ]
    pushed = await taken.agent.client.post(
        logger["url"],
        params={"start_from": 0},
        content="\n".join(json.dumps(event) for event in printed),
        headers={"Authorization": f"Bearer {logger['token']}"},
    )
    assert pushed.status_code == 200, pushed.text
    log = await rig.api.get(f"/api/v1alpha/logs/{taken.id}")
    assert SECRET_ENV not in log.text
    outputs = [e.get("output") or e.get("directive") for e in log.json()["events"]]
    assert outputs == [
        "curl -u [secret] host",
        "key=[secret]; again [secret]\n",
        "nothing secret\n",
    ]
    await taken.report()
    await rig.settle()
    assert await rig.state(ppl) == ("done", "passed", "test")
    async with rig.app.state.db.engine.connect() as conn:
        stored = await conn.exec_driver_sql("SELECT sealed FROM secrets")
        assert all(SECRET_ENV not in row[0] for row in stored)
        specs = await conn.exec_driver_sql("SELECT spec FROM jobs")
        assert all(SECRET_ENV not in str(row[0]) for row in specs)


async def test_bad_secrets_are_refused_naming_the_field(rig: EngineRig) -> None:
    def named(data: object) -> dict[str, object]:
        return {"metadata": {"name": "ok"}, "data": data}

    two = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    cases = [
        ({"metadata": {"name": ""}}, "metadata.name"),
        ({}, "metadata.name"),
        (named({"env_vars": [{"name": "1BAD", "value": ""}]}), "data.env_vars.0.name"),
        (named({"env_vars": two}), "data.env_vars.1.name"),
        (named({"files": [{"path": "f", "content": "%%%"}]}), "data.files.0.content"),
        (named({"env_vars": "nope"}), "data.env_vars"),
        (named({"env_vars": [{"name": "A", "value": None}]}), "data.env_vars.0.value"),
        (named({"files": [{"path": "f", "content": ""}]}), "data.files.0.content"),
    ]
    for body, field in cases:
        response = await rig.api.post("/api/v1beta/secrets", json=body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["message"], (body, response.text)
    assert (await rig.api.get("/api/v1beta/secrets")).json()["secrets"] == []


async def test_bad_run_requests_are_4xx_and_store_nothing(rig: EngineRig) -> None:
    good = {"project_id": rig.project_id, "reference": "refs/heads/master"}
    bodies: list[tuple[object, str]] = [
        ({**good, "reference": "refs/heads/"}, "reference"),
        ({**good, "reference": "refs/heads/a..b"}, "reference"),
        ({**good, "reference": "refs/heads/x\x00y"}, "reference"),
        ({**good, "reference": "refs/heads/-rf"}, "reference"),
        ({**good, "reference": "refs/pull/abc"}, "reference"),
        ({**good, "reference": "x" * 2000}, "reference"),
        ({**good, "project_id": 5}, "project_id"),
        ({**good, "commit_sha": "f" * 41}, "commit_sha"),
        ({**good, "commit_sha": "--upload-pack=evil"}, "commit_sha"),
        ({**good, "pipeline_file": "/etc/passwd"}, "pipeline_file"),
        ({**good, "pipeline_file": ".semaphore/../../x.yml"}, "pipeline_file"),
        ({**good, "commit_sha": ["f" * 40]}, "commit_sha"),
        ([good], "body"),
    ]
    for body, field in bodies:
        response = await rig.api.post(f"{API}/plumber-workflows", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert field in response.json()["message"], (body, response.text)
    listed = await rig.api.get(f"{API}/plumber-workflows", params={"project_id": rig.project_id})
    assert listed.json() == []
