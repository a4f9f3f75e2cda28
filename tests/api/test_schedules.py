"""Schedules: upsert from YAML, shapes, firing by an injected clock, pause, run now, tasks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from blockpost.db.engine import Database
from blockpost.db.models import ScheduleTrigger, Workflow
from blockpost.engine.context import EngineContext
from blockpost.scheduler.service import Scheduler
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

CUSTOM_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}Z$")
SCHEDULE_KEYS = {
    "updated_at", "suspended", "requester_id", "project_id", "pipeline_file", "paused",
    "pause_toggled_by", "pause_toggled_at", "name", "inserted_at", "id", "branch", "at",
    "description", "recurring", "parameters", "reference",
}  # fmt: skip
TRIGGER_KEYS = {
    "triggered_at", "scheduling_status", "scheduled_workflow_id", "scheduled_at",
    "run_now_requester_id", "project_id", "pipeline_file", "periodic_id", "error_description",
    "branch", "reference", "parameter_values",
}  # fmt: skip


def definition(name: str = "nightly", at: str = "0 3 * * *", **spec: object) -> str:
    fields = {"project": "rig", "branch": "master", "at": at, **spec}
    lines = "".join(
        f"  {key}: {str(value).lower() if isinstance(value, bool) else repr(value)}\n"
        for key, value in fields.items()
    )
    return f"apiVersion: v1.0\nkind: Schedule\nmetadata:\n  name: {name}\nspec:\n{lines}"


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


async def upsert(rig: EngineRig, text: str, **params: str) -> httpx.Response:
    return await rig.api.post(f"{API}/schedules", params=params, json={"yml_definition": text})


async def saved(rig: EngineRig, text: str, **params: str) -> dict[str, object]:
    """Upserts (which answers the id, as Semaphore does) and describes the schedule."""
    response = await upsert(rig, text, **params)
    assert response.status_code == 200, response.text
    described = await rig.api.get(f"{API}/schedules/{response.json()}")
    schedule: dict[str, object] = described.json()["schedule"]
    return schedule


async def workflows(rig: EngineRig) -> int:
    async with rig.app.state.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Workflow)) or 0)


async def test_upsert_list_describe_and_delete_in_semaphores_shapes(rig: EngineRig) -> None:
    created = await upsert(rig, definition())
    assert created.status_code == 200, created.text
    assert isinstance(created.json(), str)  # the id, as Semaphore answers an apply
    described = await rig.api.get(f"{API}/schedules/{created.json()}")
    schedule = described.json()["schedule"]
    assert schedule["id"] == created.json()
    assert set(schedule) == SCHEDULE_KEYS
    assert (schedule["name"], schedule["branch"], schedule["at"]) == (
        "nightly",
        "master",
        "0 3 * * *",
    )
    assert schedule["pipeline_file"] == ".semaphore/semaphore.yml"
    assert schedule["paused"] is False
    assert schedule["suspended"] is False
    assert schedule["pause_toggled_by"] == schedule["pause_toggled_at"] == ""
    assert CUSTOM_TIME.match(schedule["inserted_at"])
    assert CUSTOM_TIME.match(schedule["updated_at"])
    assert schedule["project_id"] == rig.project_id
    assert schedule["recurring"] is True
    assert schedule["description"] == ""
    assert schedule["parameters"] == []
    assert schedule["reference"] == "refs/heads/master"

    updated = await saved(rig, definition(at="30 4 * * 1"), periodic_id=schedule["id"])
    assert updated["id"] == schedule["id"]
    assert updated["at"] == "30 4 * * 1"
    same_name = await upsert(rig, definition(at="0 5 * * *"))
    assert same_name.json() == schedule["id"]  # by name in the project: an update
    await upsert(rig, definition("weekly", at="0 0 * * 0"))

    listed = await rig.api.get(f"{API}/schedules", params={"project_id": rig.project_id})
    assert [s["name"] for s in listed.json()] == ["nightly", "weekly"]
    paged = await rig.api.get(
        f"{API}/schedules", params={"project_id": "rig", "page_size": 1, "page": 2}
    )
    assert [s["name"] for s in paged.json()] == ["weekly"]
    assert 'rel="prev"' in paged.headers["link"]

    described = (await rig.api.get(f"{API}/schedules/{schedule['id']}")).json()
    assert set(described) == {"triggers", "schedule"}
    assert described["triggers"] == []
    deleted = await rig.api.delete(f"{API}/schedules/{schedule['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == "Schedule successfully deleted."


async def test_a_schedule_not_found_is_400_as_semaphore_answers(rig: EngineRig) -> None:
    missing = "0b5a3c4e-2f1d-4c6b-9a8e-7d6c5b4a3f21"
    for method, path in [
        ("GET", missing),
        ("DELETE", missing),
        ("POST", f"{missing}/run_now"),
        ("POST", f"{missing}/pause"),
        ("GET", "not-a-uuid"),
    ]:
        response = await rig.api.request(method, f"{API}/schedules/{path}")
        assert response.status_code == 400, (method, path, response.text)
        assert "not found" in response.json()["message"]
    named = await upsert(rig, definition(), periodic_id=missing)
    assert named.status_code == 400
    assert named.json()["message"].startswith("periodic_id:")


async def test_bad_schedules_are_400_with_the_reason(rig: EngineRig) -> None:
    cases = [
        (definition(at="61 * * * *"), "spec.at"),
        (definition(at="every night"), "spec.at"),
        (definition(project="nope"), "spec.project"),
        (definition(branch="no-such-branch"), "spec.branch"),
        (definition(pipeline_file="/etc/passwd"), "pipeline_file"),
        ("apiVersion: v1.0\nkind: Pipeline\n", "kind"),
        ("apiVersion: v1.0\nkind: Schedule\nmetadata: {}\nspec: {}\n", "spec.at"),
        ("[unclosed", "yml_definition"),
    ]
    for text, word in cases:
        response = await upsert(rig, text)
        assert response.status_code == 400, (text, response.text)
        assert word in response.json()["message"], (text, response.text)
    missing = await rig.api.post(f"{API}/schedules", json={})
    assert missing.status_code == 400
    assert "yml_definition" in missing.json()["message"]
    listed = await rig.api.get(f"{API}/schedules", params={"project_id": rig.project_id})
    assert listed.json() == []


async def test_the_scheduler_fires_on_time_once_and_records_the_trigger(rig: EngineRig) -> None:
    schedule = await saved(rig, definition(at="0 3 * * *"))
    scheduler = Scheduler(rig.app.state.engine)
    # The first 03:00 after the schedule was saved: today's when the test runs before it.
    now = datetime.now(UTC)
    day = now.date() if now.hour < 3 else now.date() + timedelta(days=1)
    before = datetime(day.year, day.month, day.day, 2, 59, 59, tzinfo=UTC)
    due = await scheduler.run_once(before)
    assert due == datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)
    assert await workflows(rig) == 0
    at_three = datetime(day.year, day.month, day.day, 3, 0, 1, tzinfo=UTC)
    following = await scheduler.run_once(at_three)
    assert following == due + timedelta(days=1)
    await scheduler.run_once(at_three + timedelta(seconds=5))  # the same tick: not again
    assert await workflows(rig) == 1
    described = (await rig.api.get(f"{API}/schedules/{schedule['id']}")).json()
    (trigger,) = described["triggers"]
    assert set(trigger) == TRIGGER_KEYS
    assert trigger["scheduling_status"] == "passed"
    assert trigger["run_now_requester_id"] == ""
    assert trigger["periodic_id"] == schedule["id"]
    assert CUSTOM_TIME.match(trigger["triggered_at"])
    # the workflow runs like any other, marked as scheduled
    taken = await rig.run_jobs()
    assert taken == ["compile"]
    wf = (await rig.api.get(f"{API}/plumber-workflows/{trigger['scheduled_workflow_id']}")).json()
    assert wf["workflow"]["branch_name"] == "master"


async def test_after_downtime_one_missed_run_fires_not_a_burst(rig: EngineRig) -> None:
    await upsert(rig, definition(at="*/5 * * * *"))
    scheduler = Scheduler(rig.app.state.engine)
    later = datetime.now(UTC) + timedelta(hours=3)  # 36 ticks were missed
    following = await scheduler.run_once(later)
    assert await workflows(rig) == 1
    assert following is not None
    assert later < following <= later + timedelta(minutes=5)


async def test_paused_schedules_do_not_fire_and_unpausing_skips_what_was_missed(
    rig: EngineRig,
) -> None:
    schedule = await saved(rig, definition(at="*/5 * * * *"))
    paused = await rig.api.post(f"{API}/schedules/{schedule['id']}/pause")
    assert paused.json()["paused"] is True
    assert paused.json()["pause_toggled_by"] == schedule["requester_id"]
    assert CUSTOM_TIME.match(paused.json()["pause_toggled_at"])
    scheduler = Scheduler(rig.app.state.engine)
    await scheduler.run_once(datetime.now(UTC) + timedelta(hours=1))
    assert await workflows(rig) == 0
    unpaused = await rig.api.post(f"{API}/schedules/{schedule['id']}/unpause")
    assert unpaused.json()["paused"] is False
    await scheduler.run_once(datetime.now(UTC) + timedelta(seconds=1))
    assert await workflows(rig) == 0  # nothing came due since the unpause


async def test_a_restarted_scheduler_does_not_fire_a_tick_twice(rig: EngineRig) -> None:
    await upsert(rig, definition(at="*/5 * * * *"))
    when = datetime.now(UTC) + timedelta(minutes=6)
    await Scheduler(rig.app.state.engine).run_once(when)
    await Scheduler(rig.app.state.engine).run_once(when)  # a new process, same moment
    assert await workflows(rig) == 1


async def test_two_schedulers_at_once_fire_a_tick_once(
    rig: EngineRig, app: FastAPI, database_url: str
) -> None:
    """Two replicas (each its own database connection pool) racing for the same tick."""
    await upsert(rig, definition(at="*/5 * * * *"))
    ctx: EngineContext = app.state.engine
    other_db = Database(database_url)
    other = EngineContext(other_db, ctx.wakeups, ctx.sealer, ctx.mirrors, ctx.hosted_agent_type)
    when = datetime.now(UTC) + timedelta(minutes=6)
    try:
        await asyncio.gather(Scheduler(ctx).run_once(when), Scheduler(other).run_once(when))
    finally:
        await other_db.dispose()
    assert await workflows(rig) == 1
    async with rig.app.state.db.session() as session:
        triggers = (await session.scalars(select(ScheduleTrigger))).all()
    assert [t.scheduling_status for t in triggers] == ["passed"]


async def test_a_failing_run_is_recorded_as_a_failed_trigger(rig: EngineRig) -> None:
    schedule = await saved(rig, definition(at="*/5 * * * *"))
    rig.repo.git("branch", "-m", "master", "renamed")  # the branch is gone
    await Scheduler(rig.app.state.engine).run_once(datetime.now(UTC) + timedelta(minutes=6))
    described = (await rig.api.get(f"{API}/schedules/{schedule['id']}")).json()
    (trigger,) = described["triggers"]
    assert trigger["scheduling_status"] == "failed"
    assert "master" in trigger["error_description"]
    assert trigger["scheduled_workflow_id"] == ""


async def test_run_now_records_who_asked_and_takes_overrides(rig: EngineRig) -> None:
    rig.repo.checkout("other", new=True)
    schedule = await saved(rig, definition(at="0 0 1 1 *", paused=True))
    ran = await rig.api.post(
        f"{API}/schedules/{schedule['id']}/run_now",
        json={"branch": "other", "parameters": {"DEPLOY_ENV": "staging"}},
    )
    assert ran.status_code == 200, ran.text
    trigger = ran.json()["trigger"]
    assert trigger["run_now_requester_id"] == schedule["requester_id"]
    assert trigger["branch"] == "other"
    await rig.settle()
    taken = await rig.take()
    env = {e["name"] for e in taken.payload["env_vars"]}
    assert "DEPLOY_ENV" in env
    bad = await rig.api.post(
        f"{API}/schedules/{schedule['id']}/run_now", json={"branch": "no-such"}
    )
    assert bad.status_code == 400
    assert "branch" in bad.json()["message"]


async def test_task_launch_runs_a_template_and_reports_it(rig: EngineRig) -> None:
    await upsert(rig, definition())
    launched = await rig.api.post("/api/project/1/tasks", json={"template_id": 1})
    assert launched.status_code == 201, launched.text
    task = launched.json()
    assert task["template_id"] == 1
    assert task["project_id"] == 1
    assert task["status"] == "waiting"
    await rig.run_jobs()
    followed = await rig.api.get(f"/api/project/rig/tasks/{task['id']}")
    assert followed.json()["status"] == "success"
    assert (await rig.api.post("/api/project/1/tasks", json={"template_id": 9})).status_code == 404
    assert (await rig.api.post("/api/project/1/tasks", json={})).status_code == 400
