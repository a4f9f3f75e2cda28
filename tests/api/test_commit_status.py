"""Commit statuses: pipelines and blocks of a project whose `status.pipeline_files` names
their file are posted to a real local fake forge (GitHub, GitLab, Gitea, Bitbucket routes) —
pending at the start, then the verdict — with the notifier's run_once called directly."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from blockpost.commit_status.forges import ApiRoots
from blockpost.db.models import Project
from blockpost.notify.sender import Notifier, SenderOptions
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml
from tests.support.fake_forge import FakeForge, running_forge

TOKEN = "tok-3f9a1c-never-shown"
SERVER = "https://ci.example.com"


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with running_forge() as made:
        yield made


@pytest.fixture
async def sender(app: FastAPI, forge: FakeForge) -> AsyncIterator[Notifier]:
    """A notifier whose retries are due at once, posting to the fake forge's roots."""
    options = SenderOptions(
        server_url=SERVER,
        organization="blockpost",
        organization_id=app.state.settings.organization_id,
        allow_private=False,  # statuses go to the forges the settings name, loopback or not
        backoff=0.0,
        forge_roots=ApiRoots(
            **{name: forge.root(name) for name in ("github", "gitlab", "gitea", "bitbucket")}
        ),
    )
    made = Notifier(app.state.db, app.state.sealer, options)
    yield made
    await made.stop()


async def rig_for(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path, yaml: str) -> EngineRig:
    """A rig whose repository lives at .../acme/repo: its forge path is acme/repo."""
    return await make_rig(app, admin, tmp_path / "acme", yaml)


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await rig_for(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


async def configure(rig: EngineRig, integration: str = "github_token", **repository: Any) -> None:
    body = {"integration_type": integration, "status_token": TOKEN, **repository}
    response = await rig.api.patch(
        f"{API}/projects/{rig.project_id}", json={"spec": {"repository": body}}
    )
    assert response.status_code == 200, response.text


async def status_log(client: httpx.AsyncClient, project: str) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/projects/{project}/status_deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


PUSH = "ci/semaphoreci/push: Rig pipeline"


async def test_a_passing_pipeline_posts_pending_at_its_start_then_success(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    await configure(rig)
    started = await rig.run()
    await rig.settle()
    assert await sender.run_once() == 1
    await rig.run_jobs()
    assert await sender.run_once() == 1

    sha = rig.repo.git("rev-parse", "HEAD")
    ppl = started["pipeline_id"]
    assert [(p.provider, p.repo, p.sha) for p in forge.posts] == [("github", "acme/repo", sha)] * 2
    assert [p.headers["authorization"] for p in forge.posts] == [f"Bearer {TOKEN}"] * 2
    assert [p.body for p in forge.posts] == [
        {
            "state": "pending",
            "context": PUSH,
            "target_url": f"{SERVER}/api/v1alpha/pipelines/{ppl}",
            "description": "The build is pending on blockpost.",
        },
        {
            "state": "success",
            "context": PUSH,
            "target_url": f"{SERVER}/api/v1alpha/pipelines/{ppl}",
            "description": "The build passed on blockpost.",
        },
    ]
    log = await status_log(rig.api, "rig")
    assert [(d["context"], d["status"], d["state"], d["status_code"]) for d in log] == [
        (PUSH, "success", "delivered", 201),
        (PUSH, "pending", "delivered", 201),
    ]
    assert log[0]["endpoint"] == f"{forge.root('github')}/repos/acme/repo/statuses/{sha}"


@pytest.mark.parametrize(
    ("integration", "token", "path", "auth", "pending", "failed", "context_key"),
    [
        ("github_app", TOKEN, "acme/repo", f"Bearer {TOKEN}", "pending", "failure", "context"),
        ("gitlab", TOKEN, "acme/repo", f"Bearer {TOKEN}", "pending", "failed", "name"),
        ("gitea", TOKEN, "acme/repo", f"token {TOKEN}", "pending", "failure", "context"),
        (
            "bitbucket",
            "ada:app-password",
            "acme/repo",
            "Basic YWRhOmFwcC1wYXNzd29yZA==",
            "INPROGRESS",
            "FAILED",
            "name",
        ),
        ("bitbucket", TOKEN, "acme/repo", f"Bearer {TOKEN}", "INPROGRESS", "FAILED", "name"),
    ],
)
async def test_a_failing_pipeline_posts_pending_then_failure_in_each_providers_words(
    rig: EngineRig,
    forge: FakeForge,
    sender: Notifier,
    integration: str,
    token: str,
    path: str,
    auth: str,
    pending: str,
    failed: str,
    context_key: str,
) -> None:
    response = await rig.api.patch(
        f"{API}/projects/{rig.project_id}",
        json={"spec": {"repository": {"integration_type": integration, "status_token": token}}},
    )
    assert response.status_code == 200, response.text
    started = await rig.run()
    await rig.settle()
    await sender.run_once()
    await rig.run_jobs({"compile": "failed"})
    await sender.run_once()

    provider = "github" if integration.startswith("github") else integration
    assert [(p.provider, p.repo, p.headers["authorization"]) for p in forge.posts] == [
        (provider, path, auth)
    ] * 2
    assert [(p.body[context_key], p.body["state"]) for p in forge.posts] == [
        (PUSH, pending),
        (PUSH, failed),
    ]
    link = f"{SERVER}/api/v1alpha/pipelines/{started['pipeline_id']}"
    assert {p.body.get("target_url") or p.body.get("url") for p in forge.posts} == {link}
    if integration == "bitbucket":
        assert {p.body["key"] for p in forge.posts} == {PUSH[:40]}


async def test_block_level_posts_each_block_and_the_pipeline_level_too(
    app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path, forge: FakeForge, sender: Notifier
) -> None:
    yaml = pipeline_yaml(
        block("Build", "compile", extra="    dependencies: []\n"),
        block("Test", "unit", extra="    dependencies: [Build]\n"),
        block("Deploy", "ship", extra="    dependencies: [Test]\n"),
    )
    rig = await rig_for(app, admin, tmp_path, yaml)
    try:
        files = [
            {"path": ".semaphore/semaphore.yml", "level": "block"},
            {"path": ".semaphore/semaphore.yml", "level": "pipeline"},
        ]
        await configure(rig, status={"pipeline_files": files})
        described = (await rig.api.get(f"{API}/projects/rig")).json()
        assert described["spec"]["repository"]["status"]["pipeline_files"] == files

        await rig.run()
        await rig.settle()
        await sender.run_once()
        assert sorted(forge.states()) == [
            ("ci/semaphoreci/push: Build", "pending"),
            ("ci/semaphoreci/push: Deploy", "pending"),
            ("ci/semaphoreci/push: Rig pipeline", "pending"),
            ("ci/semaphoreci/push: Test", "pending"),
        ]
        forge.posts.clear()
        await rig.run_jobs({"unit": "failed"})
        await sender.run_once()
        assert sorted(forge.states()) == [
            ("ci/semaphoreci/push: Build", "success"),
            ("ci/semaphoreci/push: Deploy", "error"),  # canceled: its dependency failed
            ("ci/semaphoreci/push: Rig pipeline", "failure"),
            ("ci/semaphoreci/push: Test", "failure"),
        ]
    finally:
        await rig.close()


async def test_a_partial_rebuild_reports_the_blocks_it_kept_as_passed_at_its_start(
    app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path, forge: FakeForge, sender: Notifier
) -> None:
    yaml = pipeline_yaml(
        block("Build", "compile", extra="    dependencies: []\n"),
        block("Test", "unit", extra="    dependencies: [Build]\n"),
    )
    rig = await rig_for(app, admin, tmp_path, yaml)
    try:
        await configure(
            rig, status={"pipeline_files": [{"path": ".semaphore/semaphore.yml", "level": "block"}]}
        )
        started = await rig.run()
        await rig.run_jobs({"unit": "failed"})
        await sender.run_once()
        forge.posts.clear()
        rebuilt = await rig.api.post(
            f"{API}/pipelines/{started['pipeline_id']}/partial_rebuild?request_token=again"
        )
        assert rebuilt.status_code == 200, rebuilt.text
        await rig.settle()
        await sender.run_once()
        assert sorted(forge.states()) == [
            ("ci/semaphoreci/push: Build", "success"),
            ("ci/semaphoreci/push: Test", "pending"),
        ]
    finally:
        await rig.close()


async def test_a_tag_pipeline_has_the_tag_context(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    await configure(rig)
    rig.repo.tag("v1.0")
    await rig.run("refs/tags/v1.0")
    await rig.run_jobs()
    await sender.run_once()
    assert forge.states() == [("ci/semaphoreci/tag: Rig pipeline", "success")]


async def test_a_pull_request_reports_its_head_commit_with_the_pr_context(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    await configure(rig)
    base = rig.repo.git("rev-parse", "HEAD")
    rig.repo.checkout("feature", new=True)
    head = rig.repo.commit({"lib.py": "print(1)"}, "feature work")
    rig.repo.checkout("master")
    merge = rig.repo.git("commit-tree", f"{head}^{{tree}}", "-p", base, "-p", head, "-m", "Merge")
    rig.repo.git("update-ref", "refs/pull/7/head", head)
    rig.repo.git("update-ref", "refs/pull/7/merge", merge)
    await rig.run("refs/pull/7")
    await rig.run_jobs()
    await sender.run_once()
    assert [(p.sha, p.body["context"], p.body["state"]) for p in forge.posts] == [
        (head, "ci/semaphoreci/pr: Rig pipeline", "success")
    ]


async def test_a_status_the_forge_refuses_with_500_is_retried_and_recorded(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    await configure(rig)
    started = await rig.run()
    await rig.run_jobs()
    forge.answers = [500]
    assert await sender.run_once() == 1
    first, superseded = await status_log(rig.api, "rig")
    assert (superseded["status"], superseded["state"]) == ("pending", "superseded")
    assert (first["status"], first["state"], first["attempts"], first["status_code"]) == (
        "success",
        "pending",
        1,
        500,
    )
    assert first["error"].startswith("answered 500")
    assert first["next_attempt_at"] is not None
    assert await sender.run_once() == 1
    done = (await status_log(rig.api, "rig"))[0]
    assert (done["state"], done["attempts"], done["status_code"], done["error"]) == (
        "delivered",
        2,
        201,
        None,
    )
    assert [p.body["state"] for p in forge.posts] == ["success", "success"]
    # the forge's trouble is not the pipeline's
    assert await rig.state(started["pipeline_id"]) == ("done", "passed", "test")


async def test_a_pending_status_not_yet_sent_is_superseded_by_the_verdict(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    await configure(rig)
    await rig.run()
    await rig.run_jobs()
    await sender.run_once()
    assert forge.states() == [(PUSH, "success")]
    log = await status_log(rig.api, "rig")
    assert [(d["status"], d["state"], d["attempts"]) for d in log] == [
        ("success", "delivered", 1),
        ("pending", "superseded", 0),
    ]


async def test_a_forge_that_refuses_the_token_fails_the_status_for_good(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    await configure(rig)
    await rig.run()
    await rig.run_jobs()
    forge.answers = [401]
    await sender.run_once()
    assert await sender.run_once() == 0
    failed = (await status_log(rig.api, "rig"))[0]
    assert (failed["state"], failed["attempts"], failed["status_code"]) == ("failed", 1, 401)


@pytest.mark.parametrize(
    "repository",
    [
        {"status": {"pipeline_files": []}},
        {"status": {"pipeline_files": [{"path": ".semaphore/deploy.yml", "level": "pipeline"}]}},
        {"integration_type": "git", "status_token": ""},
    ],
    ids=["no pipeline files", "another file", "no forge"],
)
async def test_a_project_that_reports_nothing_posts_nothing(
    rig: EngineRig, forge: FakeForge, sender: Notifier, repository: dict[str, Any]
) -> None:
    await configure(rig)
    response = await rig.api.patch(
        f"{API}/projects/{rig.project_id}", json={"spec": {"repository": repository}}
    )
    assert response.status_code == 200, response.text
    await rig.run()
    await rig.run_jobs()
    assert await sender.run_once() == 0
    assert forge.posts == []
    assert await status_log(rig.api, "rig") == []


async def test_without_a_token_nothing_is_posted(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    response = await rig.api.patch(
        f"{API}/projects/{rig.project_id}",
        json={"spec": {"repository": {"integration_type": "github_token"}}},
    )
    assert response.status_code == 200, response.text
    await rig.run()
    await rig.run_jobs()
    assert await sender.run_once() == 0
    assert forge.posts == []


async def test_the_token_is_sealed_and_never_in_an_answer_or_a_log(
    app: FastAPI,
    rig: EngineRig,
    forge: FakeForge,
    sender: Notifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await rig.api.patch(
        f"{API}/projects/{rig.project_id}",
        json={"spec": {"repository": {"integration_type": "gitea", "status_token": TOKEN}}},
    )
    assert TOKEN not in response.text
    await rig.run()
    await rig.run_jobs()
    forge.answers = [502]
    await sender.run_once()
    await sender.run_once()
    assert [p.headers["authorization"] for p in forge.posts] == [f"token {TOKEN}"] * 2
    answers = [
        await rig.api.get(f"{API}/projects/rig"),
        await rig.api.get(f"{API}/projects"),
        await rig.api.get(f"{API}/projects/rig/status_deliveries"),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert TOKEN not in answer.text
    assert TOKEN not in caplog.text
    async with app.state.db.session() as session:
        stored = await session.scalar(select(Project.status_token))
    assert stored
    assert TOKEN not in stored
    assert app.state.sealer.open(stored) == TOKEN


async def test_removing_the_token_stops_the_statuses(
    rig: EngineRig, forge: FakeForge, sender: Notifier
) -> None:
    await configure(rig)
    response = await rig.api.patch(
        f"{API}/projects/{rig.project_id}",
        json={"spec": {"repository": {"status_token": ""}}},
    )
    assert response.status_code == 200, response.text
    await rig.run()
    await rig.run_jobs()
    assert await sender.run_once() == 0


@pytest.mark.parametrize(
    ("repository", "field", "reason"),
    [
        ({"status_token": TOKEN}, "spec.repository.status_token", "integration_type must be"),
        (
            {"integration_type": "github_token", "status_token": "has a space"},
            "spec.repository.status_token",
            "printable ASCII characters without spaces",
        ),
        (
            {"status": {"pipeline_files": [{"path": "../x.yml", "level": "pipeline"}]}},
            "spec.repository.status.pipeline_files.0.path",
            "relative path",
        ),
        (
            {"status": {"pipeline_files": [{"path": "x.yml", "level": "job"}]}},
            "spec.repository.status.pipeline_files.0.level",
            "",
        ),
    ],
    ids=["no forge", "spaces", "outside the repository", "unknown level"],
)
async def test_bad_status_settings_are_refused_naming_the_field(
    rig: EngineRig, repository: dict[str, Any], field: str, reason: str
) -> None:
    response = await rig.api.patch(
        f"{API}/projects/{rig.project_id}", json={"spec": {"repository": repository}}
    )
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert field in message
    assert reason in message


async def test_the_status_log_is_for_those_who_see_the_project(
    rig: EngineRig, make_client: Any
) -> None:
    stranger = await make_client("stranger")
    response = await stranger.get(f"{API}/projects/rig/status_deliveries")
    assert response.status_code == 404
