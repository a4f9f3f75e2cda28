"""Whose jobs the embedded agents (type s1-local, on the server's own machine) take."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from blockpost.dispatch.embedded import EmbeddedUsers
from blockpost.engine.service import Engine
from tests.api.engine_rig import API, block, pipeline_yaml
from tests.support.gitrepo import GitRepo


async def project_of(
    client: httpx.AsyncClient, name: str, url: str = "https://example.com/r.git"
) -> str:
    created = await client.post(
        f"{API}/projects", json={"metadata": {"name": name}, "spec": {"repository": {"url": url}}}
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


def job_on(project_id: str, machine_type: str) -> dict[str, object]:
    return {
        "metadata": {"name": "j"},
        "spec": {
            "project_id": project_id,
            "agent": {"machine": {"type": machine_type, "os_image": "ubuntu2004"}},
            "commands": ["true"],
        },
    }


async def test_without_a_sandbox_only_administrators_jobs_go_to_the_embedded_agent(
    alice: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    """The default when no sandbox is in force (serve sets it from the machine)."""
    project = await project_of(alice, "alices")
    for machine_type in ("e1-standard-2", "s1-local"):
        refused = await alice.post(f"{API}/jobs", json=job_on(project, machine_type))
        assert refused.status_code == 403, refused.text
        assert "BLOCKPOST_EMBEDDED_AGENT_USERS" in refused.json()["message"]
    assert (await alice.post(f"{API}/jobs", json=job_on(project, "s1-team"))).status_code == 200
    admins = await project_of(admin, "admins")
    assert (
        await admin.post(f"{API}/jobs", json=job_on(admins, "e1-standard-2"))
    ).status_code == 200


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.model_copy(update=getattr(request, "param", {}))


@pytest.mark.parametrize(
    "settings",
    [{"embedded_agent_users": EmbeddedUsers.ALL}, {"agents": 0}],
    ids=["all-users", "no-embedded-agents"],
    indirect=True,
)
async def test_the_setting_or_no_embedded_agents_let_everyone_use_the_type(
    alice: httpx.AsyncClient,
) -> None:
    project = await project_of(alice, "alices")
    created = await alice.post(f"{API}/jobs", json=job_on(project, "e1-standard-2"))
    assert created.status_code == 200, created.text


async def test_a_non_administrators_pipeline_on_the_embedded_agent_fails_saying_why(
    app: FastAPI, alice: httpx.AsyncClient, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({".semaphore/semaphore.yml": pipeline_yaml(block("Build", "build"))})
    project = await project_of(alice, "alices", repo.url)
    started = await alice.post(
        f"{API}/plumber-workflows",
        json={"project_id": project, "reference": "refs/heads/master"},
    )
    assert started.status_code == 200, started.text
    engine = Engine(app.state.engine, tick=1.0)
    for _ in range(10):
        if not await engine.run_once():
            break
    body = (await alice.get(f"{API}/pipelines/{started.json()['pipeline_id']}")).json()
    pipeline = body["pipeline"]
    assert (pipeline["state"], pipeline["result"], pipeline["result_reason"]) == (
        "done",
        "failed",
        "malformed",
    )
    assert "BLOCKPOST_EMBEDDED_AGENT_USERS" in pipeline["error_description"]
    await engine.stop()
