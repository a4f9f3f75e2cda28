"""The operator's log: one line per login, token, workflow, pipeline end, agent and schedule
firing, with who and what, and never a password or token."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from blockpost.config import Settings
from blockpost.db.models import Agent, Schedule
from blockpost.dispatch.reaper import Reaper
from blockpost.logformat import JsonFormatter, log_config
from blockpost.scheduler import firing
from tests.api.engine_rig import API, block, make_rig, pipeline_yaml
from tests.conftest import PASSWORD, MakeUser

EVENTS = "blockpost.events"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == EVENTS and r.getMessage().startswith(f"event={name} ")
    ]


async def test_logins_and_tokens_are_logged_without_secrets(
    app: FastAPI, anon: httpx.AsyncClient, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    await make_user("dora")
    caplog.set_level(logging.INFO, logger=EVENTS)
    wrong = await anon.post("/api/auth/login", json={"auth": "dora", "password": "not-it-123"})
    assert wrong.status_code == 401
    assert await anon.post("/api/auth/login", json={"auth": "dora", "password": PASSWORD})
    made = await anon.post("/api/user/tokens")
    assert made.status_code == 201, made.text
    secret = made.json()["id"]
    listed = (await anon.get("/api/user/tokens")).json()
    public_id = listed[0]["id"]
    assert (await anon.delete(f"/api/user/tokens/{secret}")).status_code == 204

    assert events(caplog, "login.failed") == ["event=login.failed login=dora address=127.0.0.1"]
    assert events(caplog, "login.succeeded") == [
        "event=login.succeeded user=dora address=127.0.0.1"
    ]
    assert events(caplog, "token.created") == [
        f"event=token.created user=dora token={public_id} by=dora"
    ]
    assert events(caplog, "token.expired") == [f"event=token.expired user=dora token={public_id}"]
    logged = caplog.text
    for secret_text in (PASSWORD, "not-it-123", secret):
        assert secret_text not in logged


async def test_workflows_pipelines_and_agents_are_logged(
    app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    caplog.set_level(logging.INFO, logger=EVENTS)
    try:
        started = await rig.run()
        assert await rig.run_jobs() == ["compile"]
    finally:
        await rig.close()
    [workflow] = events(caplog, "workflow.started")
    assert workflow.startswith(
        f"event=workflow.started workflow={started['workflow_id']} project=rig by="
    )
    assert " ref=refs/heads/master sha=" in workflow
    assert workflow.endswith(" triggered_by=api")
    [agent] = events(caplog, "agent.registered")
    assert " agent_type=s1-local address=" in agent
    [done] = events(caplog, "pipeline.done")
    assert done.startswith(
        f"event=pipeline.done pipeline={started['pipeline_id']} "
        f"workflow={started['workflow_id']} file=.semaphore/semaphore.yml "
        "result=passed reason=test seconds="
    )


async def test_a_schedule_firing_is_logged(
    app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    definition = (
        "apiVersion: v1.0\nkind: Schedule\nmetadata:\n  name: nightly\n"
        "spec:\n  project: rig\n  branch: master\n  at: '0 3 * * *'\n"
    )
    saved = await admin.post(f"{API}/schedules", json={"yml_definition": definition})
    assert saved.status_code == 200, saved.text
    caplog.set_level(logging.INFO, logger=EVENTS)
    tick = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    async with app.state.db.session() as session:
        schedule = await session.get(Schedule, saved.json())
        assert schedule is not None
        trigger = await firing.fire(session, app.state.engine, schedule, tick)
    await rig.close()
    assert events(caplog, "schedule.fired") == [
        f"event=schedule.fired schedule=nightly project={rig.project_id} "
        f"tick=2026-12-01T03:00:00Z status=passed workflow={trigger.scheduled_workflow_id}"
    ]


async def test_an_agent_lost_is_logged(
    app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    agent = await rig.agent()
    await rig.close()
    # Its last word was long ago, and the reaper has listened for a whole lease.
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    async with app.state.db.session() as session:
        await session.execute(update(Agent).values(last_sync_at=long_ago, connected_at=long_ago))
    reaper = Reaper(app.state.db, app.state.wakeups, lease_seconds=10)
    reaper.judge_agents_after = 0
    caplog.set_level(logging.INFO, logger=EVENTS)
    await reaper.run_once()
    assert events(caplog, "agent.lost") == [
        f"event=agent.lost agent={agent.name} agent_type=s1-local silent_seconds=10"
    ]


def test_json_lines_carry_the_event_fields_as_keys() -> None:
    record = logging.LogRecord(EVENTS, logging.INFO, __file__, 1, "event=x", (), None)
    record.blockpost_fields = {"event": "login.failed", "login": "dora", "address": "10.0.0.7"}
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "login.failed"
    assert (line["login"], line["address"], line["level"]) == ("dora", "10.0.0.7", "info")


def test_text_logs_show_blockpost_info_lines() -> None:
    config = log_config("text")
    assert config["loggers"]["blockpost"]["level"] == "INFO"
    assert config["loggers"]["blockpost"]["handlers"] == ["default"]
