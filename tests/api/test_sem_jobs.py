"""Jobs as the `sem` CLI creates, lists and reads them (issue 17): bodies shaped as its Go
models serialize them, `sem get jobs [--all]` queries, and the value formats it parses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from blockpost.config import Settings

API = "/api/v1alpha"
# `sem get jobs` asks for these; `sem get jobs --all` adds FINISHED
ACTIVE = [("states", "PENDING"), ("states", "QUEUED"), ("states", "RUNNING")]
ALL = [*ACTIVE, ("states", "FINISHED")]


async def project_of(client: httpx.AsyncClient, name: str) -> str:
    created = await client.post(
        f"{API}/projects",
        json={"metadata": {"name": name}, "spec": {"repository": {"url": f"/srv/{name}"}}},
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


def sem_create_job(project_id: str, name: str = "hello", **spec: Any) -> str:
    """The body of `sem create job NAME --project P --command 'echo hi'`: Go's json.Marshal
    of models.JobV1Alpha, field for field (omitempty drops the empty ones; `agent` and
    `machine` are structs, so they stay as `{}`)."""
    body = {
        "apiVersion": "v1alpha",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"agent": {"machine": {}}, "commands": ["echo hi"], "project_id": project_id}
        | spec,
    }
    return json.dumps(body, separators=(",", ":"))


async def post_job(client: httpx.AsyncClient, body: str) -> httpx.Response:
    return await client.post(
        f"{API}/jobs", content=body, headers={"Content-Type": "application/json"}
    )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"default_machine_type": "s1-sem"})


async def test_sem_create_job_without_a_machine_gets_the_default_machine_type(
    alice: httpx.AsyncClient,
) -> None:
    project = await project_of(alice, "alices")
    created = await post_job(alice, sem_create_job(project))
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["spec"]["agent"]["machine"]["type"] == "s1-sem"
    assert job["metadata"]["create_time"].isdigit()
    # Semaphore writes unset times as "0" and a queued job's agent as empty strings
    assert (job["metadata"]["start_time"], job["metadata"]["finish_time"]) == ("0", "0")
    assert job["status"]["agent"] == {"ip": "", "name": "", "ports": []}
    assert job["status"]["state"] == "QUEUED"
    described = (await alice.get(f"{API}/jobs/{job['metadata']['id']}")).json()
    assert described["metadata"] == job["metadata"]


def test_the_default_machine_type_is_the_embedded_agents_type() -> None:
    assert Settings.model_fields["default_machine_type"].default == "s1-local"


async def test_sem_create_job_ignores_what_it_sends_back_but_refuses_what_it_cannot_run(
    alice: httpx.AsyncClient,
) -> None:
    project = await project_of(alice, "alices")
    described_shape = json.loads(sem_create_job(project))
    described_shape["metadata"] |= {"id": "x", "create_time": "1700000000"}
    described_shape["status"] = {"state": "RUNNING", "result": "NONE", "agent": {"ip": ""}}
    ignored = await post_job(alice, json.dumps(described_shape))
    assert ignored.status_code == 200, ignored.text
    assert ignored.json()["metadata"]["id"] != "x"

    for spec, field in [
        ({"secrets": [{"name": "aws"}]}, "spec.secrets"),
        ({"agent": {"machine": {}, "containers": [{"name": "main"}]}}, "spec.agent.containers"),
        ({"commands": "echo hi"}, "spec.commands"),
        ({"agent": {"machine": {"type": 2}}}, "spec.agent.machine.type"),
    ]:
        refused = await post_job(alice, sem_create_job(project, **spec))
        assert refused.status_code == 400, (spec, refused.text)
        assert refused.json()["message"].startswith(field), (spec, refused.text)


async def test_sem_get_jobs_lists_jobs_of_visible_projects_in_the_states_asked(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    alices = await project_of(alice, "alices")
    first = (await post_job(alice, sem_create_job(alices, "first"))).json()["metadata"]["id"]
    second = (await post_job(alice, sem_create_job(alices, "second"))).json()["metadata"]["id"]
    bobs = (await post_job(bob, sem_create_job(await project_of(bob, "bobs"), "b"))).json()
    assert (await alice.post(f"{API}/jobs/{first}/stop")).status_code == 200

    active = await alice.get(f"{API}/jobs", params=ACTIVE)
    assert active.status_code == 200, active.text
    assert [job["metadata"]["id"] for job in active.json()["jobs"]] == [second]
    everything = (await alice.get(f"{API}/jobs", params=ALL)).json()["jobs"]
    assert [job["metadata"]["id"] for job in everything] == [second, first]
    stopped = everything[1]
    assert (stopped["status"]["state"], stopped["status"]["result"]) == ("FINISHED", "STOPPED")
    assert stopped["metadata"]["finish_time"] != "0"
    assert set(active.json()["jobs"][0]) == {"metadata", "spec", "status"}

    admin_sees = (await admin.get(f"{API}/jobs", params=ALL)).json()["jobs"]
    assert {job["metadata"]["id"] for job in admin_sees} == {
        first,
        second,
        bobs["metadata"]["id"],
    }
    # the enum's numbers, as grpc-gateway also takes them: 3 is FINISHED
    finished = (await alice.get(f"{API}/jobs", params={"states": "3"})).json()["jobs"]
    assert [job["metadata"]["id"] for job in finished] == [first]


async def test_get_jobs_pages_and_refuses_unknown_states(alice: httpx.AsyncClient) -> None:
    alices = await project_of(alice, "alices")
    for name in ("a", "b", "c"):
        assert (await post_job(alice, sem_create_job(alices, name))).status_code == 200
    page = await alice.get(f"{API}/jobs", params=[*ACTIVE, ("page_size", "2")])
    assert [job["metadata"]["name"] for job in page.json()["jobs"]] == ["c", "b"]
    assert 'rel="next"' in page.headers["link"]
    rest = await alice.get(f"{API}/jobs", params=[*ACTIVE, ("page_size", "2"), ("page", "2")])
    assert [job["metadata"]["name"] for job in rest.json()["jobs"]] == ["a"]
    # without states: every state (Semaphore's own filter would match nothing)
    assert len((await alice.get(f"{API}/jobs")).json()["jobs"]) == 3

    for states, shown in [("DONE", "'DONE'"), ("7", "'7'")]:
        refused = await alice.get(f"{API}/jobs", params={"states": states})
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"].startswith(f"states: {shown} is not one of PENDING")


async def test_plain_logs_txt_is_semaphores_path_for_the_plain_log(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    alices = await project_of(alice, "alices")
    job_id = (await post_job(alice, sem_create_job(alices))).json()["metadata"]["id"]
    for path in (f"/jobs/{job_id}/plain_logs.txt", f"{API}/jobs/{job_id}/plain_logs.txt"):
        plain = await alice.get(path)
        assert plain.status_code == 200, plain.text
        assert plain.headers["content-type"].startswith("text/plain")
        assert (await bob.get(path)).status_code == 404
