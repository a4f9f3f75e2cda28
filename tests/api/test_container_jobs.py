"""Container jobs (`agent.containers`): Semaphore's compose payload, and only agents that can
run containers are given them."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from blockpost.config import Settings
from blockpost.db.models import Agent
from blockpost.dispatch import sync
from blockpost.dispatch.queue import ContainerSpec, JobSpec
from blockpost.security import token_hash
from tests.api.agent_helpers import ProtocolAgent, create_type, enqueue
from tests.api.engine_rig import EngineRig, make_rig

CONTAINER_PIPELINE = """\
version: v1.0
name: Containers
agent:
  machine:
    type: e1-standard-2
    os_image: ubuntu2004
  containers:
    - name: main
      image: registry.example.com/ci/ruby:3.3
      env_vars:
        - name: RAILS_ENV
          value: test
    - name: db
      image: postgres:16
      command: postgres -c fsync=off
      entrypoint: docker-entrypoint.sh
      user: postgres
      env_vars:
        - name: POSTGRES_DB
          value: app
      secrets:
        - name: db-creds
  image_pull_secrets:
    - name: registry
blocks:
  - name: Test
    task:
      jobs:
        - name: unit
          commands:
            - echo unit
  - name: Lint
    task:
      agent:
        machine:
          type: e1-standard-2
      jobs:
        - name: lint
          commands:
            - echo lint
"""
DB_PASSWORD = "db-password-s3cret"
REGISTRY_PASSWORD = "registry-password-hunter2"
KEYFILE = b'{"type": "service_account"}'
CONTAINER_JOB = JobSpec(
    name="in a container",
    agent_type="s1-test",
    commands=["true"],
    containers=[ContainerSpec("main", "ubuntu:24.04")],
)
HOST_JOB = JobSpec(name="on the host", agent_type="s1-test", commands=["true"])


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # idle syncs answer at once: these tests ask "is a job queued?" many times
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    secrets = [
        ("db-creds", [("POSTGRES_PASSWORD", DB_PASSWORD)], []),
        (
            "registry",
            [
                ("DOCKER_CREDENTIAL_TYPE", "GenericDocker"),
                ("DOCKER_URL", "registry.example.com"),
                ("DOCKER_USERNAME", "ci"),
                ("DOCKER_PASSWORD", REGISTRY_PASSWORD),
            ],
            [("/tmp/gcr/keyfile.json", KEYFILE)],
        ),
    ]
    for name, env_vars, files in secrets:
        body = {
            "metadata": {"name": name},
            "data": {
                "env_vars": [{"name": n, "value": v} for n, v in env_vars],
                "files": [{"path": p, "content": b64(c)} for p, c in files],
            },
        }
        assert (await admin.post("/api/v1beta/secrets", json=body)).status_code == 200
    made = await make_rig(app, admin, tmp_path, CONTAINER_PIPELINE)
    yield made
    await made.close()


async def register_directly(
    app: FastAPI, registration_token: str, name: str, *, containers: bool
) -> tuple[ProtocolAgent, Agent]:
    """An agent registered over the protocol, saying whether it can run containers, and
    its row."""
    agent = ProtocolAgent(app, registration_token, name)
    assert (await agent.register(containers=containers)).status_code == 201
    async with app.state.db.session() as session:
        registered = await session.scalar(select(Agent).where(Agent.name == name))
    assert registered is not None
    assert registered.can_run_containers is containers
    return agent, registered


async def test_a_container_job_gets_semaphores_compose_payload(rig: EngineRig) -> None:
    await rig.run()
    await rig.settle()
    unit = await rig.take()
    assert unit.name == "unit"
    assert unit.payload["executor"] == "dockercompose"
    assert unit.payload["compose"] == {
        "containers": [
            {
                "name": "main",
                "image": "registry.example.com/ci/ruby:3.3",
                "command": "",
                "entrypoint": "",
                "user": "",
                "env_vars": [{"name": "RAILS_ENV", "value": b64("test")}],
            },
            {
                "name": "db",
                "image": "postgres:16",
                "command": "postgres -c fsync=off",
                "entrypoint": "docker-entrypoint.sh",
                "user": "postgres",
                "env_vars": [
                    {"name": "POSTGRES_DB", "value": b64("app")},
                    {"name": "POSTGRES_PASSWORD", "value": b64(DB_PASSWORD)},
                ],
            },
        ],
        "image_pull_credentials": [
            {
                "env_vars": [
                    {"name": "DOCKER_CREDENTIAL_TYPE", "value": b64("GenericDocker")},
                    {"name": "DOCKER_URL", "value": b64("registry.example.com")},
                    {"name": "DOCKER_USERNAME", "value": b64("ci")},
                    {"name": "DOCKER_PASSWORD", "value": b64(REGISTRY_PASSWORD)},
                ],
                "files": [
                    {"path": "/tmp/gcr/keyfile.json", "content": b64(KEYFILE), "mode": "0644"}
                ],
            }
        ],
        "host_setup_commands": [],
    }
    env = {e["name"]: base64.b64decode(e["value"]).decode() for e in unit.payload["env_vars"]}
    assert env["SEMAPHORE_AGENT_MACHINE_ENVIRONMENT_TYPE"] == "container"
    # the containers' secrets are the containers', not the job shell's
    assert "POSTGRES_PASSWORD" not in env
    assert "DOCKER_PASSWORD" not in env
    await unit.report()
    await rig.settle()
    lint = await rig.take()
    assert lint.name == "lint"
    assert lint.payload["executor"] == ""
    assert "compose" not in lint.payload


async def test_a_container_job_describes_its_containers_but_no_secret_value(
    rig: EngineRig,
) -> None:
    await rig.run()
    await rig.settle()
    unit = await rig.take()
    described = (await rig.api.get(f"/api/v1alpha/jobs/{unit.id}")).json()
    assert described["spec"]["agent"]["containers"] == [
        {
            "name": "main",
            "image": "registry.example.com/ci/ruby:3.3",
            "command": "",
            "env_vars": [{"name": "RAILS_ENV", "value": "test"}],
            "secrets": [],
        },
        {
            "name": "db",
            "image": "postgres:16",
            "command": "postgres -c fsync=off",
            "env_vars": [{"name": "POSTGRES_DB", "value": "app"}],
            "secrets": [{"name": "db-creds"}],
        },
    ]
    assert described["spec"]["agent"]["image_pull_secrets"] == [{"name": "registry"}]
    for value in (DB_PASSWORD, REGISTRY_PASSWORD):
        assert value not in json.dumps(described)


async def test_a_container_jobs_log_masks_its_containers_secrets(rig: EngineRig) -> None:
    await rig.run()
    await rig.settle()
    unit = await rig.take()
    printed = f"{DB_PASSWORD} {REGISTRY_PASSWORD}\n"
    line = json.dumps({"event": "cmd_output", "timestamp": 1700000000, "output": printed})
    pushed = await unit.agent.client.post(
        unit.payload["logger"]["url"].removeprefix("http://test"),
        params={"start_from": 0},
        content=line,
        headers={"Authorization": f"Bearer {unit.payload['logger']['token']}"},
    )
    assert pushed.status_code == 200, pushed.text
    log = (await rig.api.get(f"/jobs/{unit.id}/plain_logs.json")).text
    assert DB_PASSWORD not in log
    assert REGISTRY_PASSWORD not in log


async def test_a_container_secret_that_does_not_exist_makes_the_pipeline_malformed(
    rig: EngineRig,
) -> None:
    missing = CONTAINER_PIPELINE.replace("name: registry", "name: nowhere")
    rig.repo.commit({".semaphore/semaphore.yml": missing}, "missing secret")
    ppl_id = (await rig.run())["pipeline_id"]
    await rig.settle()
    body = (await rig.pipeline(ppl_id, detailed=False))["pipeline"]
    assert (body["state"], body["result"], body["result_reason"]) == ("done", "failed", "malformed")
    assert "Secret 'nowhere' not found" in body["error_description"]


async def test_bad_containers_are_refused_naming_the_field(alice: httpx.AsyncClient) -> None:
    # Semaphore's agent writes names into a docker compose file: no smuggled keys
    bad = CONTAINER_PIPELINE.replace("- name: db\n", '- name: "db\\n  privileged: true"\n')
    response = await alice.post("/api/v1alpha/yaml", json={"yaml_definition": bad})
    assert response.status_code == 400
    assert [(e["path"], e["message"]) for e in response.json()["errors"]] == [
        (
            "#/agent/containers/1/name",
            "Container name 'db\n  privileged: true' is not valid: 1-63 letters, digits, "
            "'_', '.' or '-', starting with a letter or digit.",
        )
    ]
    twice = CONTAINER_PIPELINE.replace("- name: db\n", "- name: main\n")
    response = await alice.post("/api/v1alpha/yaml", json={"yaml_definition": twice})
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "#/agent/containers/1/name"
    assert "two containers with same name: main" in response.json()["errors"][0]["message"]


async def test_a_container_job_goes_only_to_an_agent_that_can_run_containers(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    token = await create_type(admin)
    plain, _ = await register_directly(app, token, "plain", containers=False)
    container_job = await enqueue(app, CONTAINER_JOB)
    host_job = await enqueue(app, HOST_JOB)
    # the older container job is passed over, not handed out
    assert (await plain.sync("waiting-for-jobs"))["job_id"] == host_job
    assert (await plain.sync("finished-job", host_job, "passed"))["action"] == "wait-for-jobs"
    assert (await plain.sync("waiting-for-jobs"))["action"] == "continue"
    assert (await admin.get(f"/api/v1alpha/jobs/{container_job}")).json()["status"][
        "state"
    ] == "QUEUED"
    # Semaphore's agent says nothing about containers (it has a docker compose executor)
    official = ProtocolAgent(app, token, "official")
    assert (await official.register()).status_code == 201
    assert (await official.sync("waiting-for-jobs"))["job_id"] == container_job
    for agent in (plain, official):
        await agent.close()


async def test_a_container_job_says_it_waits_for_an_agent_that_can_run_containers(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    token = await create_type(admin)
    first = await enqueue(app, CONTAINER_JOB)

    async def reason(job_id: str) -> str:
        return str(
            (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]["waiting_reason"]
        )

    expected = "waiting for an agent of type s1-test that can run containers: none is connected"
    assert await reason(first) == expected
    plain, _ = await register_directly(app, token, "plain", containers=False)
    assert await reason(first) == expected, "an agent without containers does not count"
    capable, _ = await register_directly(app, token, "capable", containers=True)
    assert (await capable.sync("waiting-for-jobs"))["job_id"] == first
    second = await enqueue(app, CONTAINER_JOB)
    assert await reason(second) == (
        "waiting for a free agent of type s1-test that can run containers (1 connected, all busy)"
    )
    for agent in (plain, capable):
        await agent.close()


async def test_a_container_job_wakes_the_idle_agent_that_can_run_it(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """The agent that waited longest cannot run containers: the job's wake-up passes it by."""
    token = await create_type(admin)
    plain, plain_row = await register_directly(app, token, "plain", containers=False)
    capable, capable_row = await register_directly(app, token, "capable", containers=True)

    def held_sync(agent: ProtocolAgent, row: Agent) -> asyncio.Task[sync.SyncAnswer]:
        return asyncio.create_task(
            sync.sync(
                app.state.db,
                app.state.wakeups,
                row.id,
                token_hash(agent.token),
                "s1-test",
                sync.SyncRequest("waiting-for-jobs"),
                hold=10,
            )
        )

    plain_sync = held_sync(plain, plain_row)
    await asyncio.sleep(0.3)
    capable_sync = held_sync(capable, capable_row)
    await asyncio.sleep(0.3)
    job_id = await enqueue(app, CONTAINER_JOB)
    answer = await asyncio.wait_for(capable_sync, 3)
    assert (answer.action, answer.job_id) == ("run-job", job_id)
    assert not plain_sync.done()
    plain_sync.cancel()
    with pytest.raises(asyncio.CancelledError):
        await plain_sync
    for agent in (plain, capable):
        await agent.close()


async def test_an_agent_may_say_why_its_job_failed(app: FastAPI, admin: httpx.AsyncClient) -> None:
    token = await create_type(admin)
    agent, _ = await register_directly(app, token, "refuser", containers=True)
    refused = await ProtocolAgent(app, token, "confused").register(containers={"docker": 1})
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("containers:")
    job_id = await enqueue(app, CONTAINER_JOB)
    assert (await agent.sync("waiting-for-jobs"))["job_id"] == job_id
    assert (await agent.job(job_id)).status_code == 200
    reason = "this agent cannot run container jobs: no docker or podman found"
    answer = await agent.client.post(
        "/api/v1/self_hosted_agents/sync",
        json={
            "state": "finished-job",
            "job_id": job_id,
            "job_result": "failed",
            "interrupted_at": 0,
            "job_result_reason": reason,
        },
        headers=agent.auth(),
    )
    assert answer.json()["action"] == "wait-for-jobs"
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["result"], status["result_reason"]) == ("FAILED", reason)
    await agent.close()
