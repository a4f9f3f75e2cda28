"""Polling: a project with spec.repository.poll_interval has its repository fetched and
each new branch head or tag recorded as a push (provider "poll"), then started."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from blockpost.hooks.poller import Poller
from blockpost.hooks.starter import Starter
from blockpost.timefmt import utcnow
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


async def listed(rig: EngineRig) -> list[dict[str, object]]:
    answer = await rig.api.get(f"{API}/projects/{rig.project_id}/hook_deliveries")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def test_new_commits_branches_and_tags_are_built_as_pushes(rig: EngineRig) -> None:
    answer = await rig.api.patch(
        f"{API}/projects/{rig.project_id}",
        json={"spec": {"repository": {"poll_interval": 30, "run_on": ["branches", "tags"]}}},
    )
    assert answer.status_code == 200, answer.text
    ctx, signal = rig.app.state.engine, rig.app.state.hook_signal
    poller, starter = Poller(ctx, 0, signal), Starter(ctx, signal)
    now = utcnow()
    # the first poll notes what was pushed before polling began, and builds none of it
    assert await poller.run_once(now) == 0
    pushed = rig.repo.commit({"a.txt": "1"}, "New on master")
    rig.repo.checkout("feature", new=True)
    feature = rig.repo.commit({"b.txt": "1"}, "New branch")
    rig.repo.tag("v1.0")
    # not due yet: nothing is fetched
    assert await poller.run_once(now + timedelta(seconds=10)) == 0
    assert await poller.run_once(now + timedelta(seconds=31)) == 3
    assert await starter.run_once() == 3
    deliveries = await listed(rig)
    assert sorted((d["reference"], d["commit_sha"], d["state"]) for d in deliveries) == [
        ("refs/heads/feature", feature, "started"),
        ("refs/heads/master", pushed, "started"),
        ("refs/tags/v1.0", feature, "started"),
    ]
    assert {d["provider"] for d in deliveries} == {"poll"}
    assert {d["commit_message"] for d in deliveries} == {"New on master", "New branch"}
    workflow = await rig.api.get(f"{API}/plumber-workflows/{deliveries[0]['workflow_id']}")
    assert workflow.json()["workflow"]["triggered_by"] == "HOOK"
    # a head that did not move is not built again
    assert await poller.run_once(now + timedelta(seconds=62)) == 0


async def test_polled_heads_follow_the_same_rules_as_webhooks(rig: EngineRig) -> None:
    answer = await rig.api.patch(
        f"{API}/projects/{rig.project_id}",
        json={"spec": {"repository": {"poll_interval": 10, "whitelist": {"branches": ["master"]}}}},
    )
    assert answer.status_code == 200, answer.text
    poller = Poller(rig.app.state.engine, 0, rig.app.state.hook_signal)
    now = utcnow()
    await poller.run_once(now)
    rig.repo.checkout("experiment", new=True)
    rig.repo.commit({"c.txt": "1"}, "Try [skip ci]")
    rig.repo.checkout("master")
    rig.repo.commit({"d.txt": "1"}, "Docs [skip ci]")
    assert await poller.run_once(now + timedelta(seconds=11)) == 2
    reasons = {d["reference"]: (d["state"], d["reason"]) for d in await listed(rig)}
    assert reasons == {
        "refs/heads/experiment": (
            "skipped",
            "branch 'experiment' is not in spec.repository.whitelist.branches",
        ),
        "refs/heads/master": ("skipped", "the commit message says [skip ci]"),
    }


async def test_the_servers_poll_interval_polls_projects_that_set_none(rig: EngineRig) -> None:
    poller = Poller(rig.app.state.engine, 20, rig.app.state.hook_signal)
    now = utcnow()
    await poller.run_once(now)
    rig.repo.commit({"e.txt": "1"}, "Polled by the server's setting")
    assert await poller.run_once(now + timedelta(seconds=21)) == 1
    assert [d["state"] for d in await listed(rig)] == ["accepted"]
