"""Prometheus metrics at /metrics: gauges read from the database, counters as things happen."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from blockpost.scheduler.service import Scheduler
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "a", "b")))
    yield made
    await made.close()


def value(text: str, sample: str) -> float:
    """The value of one sample line, e.g. `blockpost_jobs{state="queued"}`."""
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in:\n{text}"
    return float(match.group(1))


async def test_metrics_follow_queue_jobs_agents_and_pickups(
    rig: EngineRig, anon: httpx.AsyncClient
) -> None:
    await rig.run()
    await rig.settle()
    agent = await rig.agent()
    before = (await anon.get("/metrics")).text  # no token: scraped like /healthz
    assert value(before, 'blockpost_queue_depth{agent_type="s1-local"}') == 2
    assert value(before, 'blockpost_jobs{state="queued"}') == 2
    assert value(before, 'blockpost_pipelines{state="running"}') == 1
    assert value(before, 'blockpost_agents{agent_type="s1-local",state="idle"}') == 1
    assert value(before, "blockpost_job_pickup_seconds_count") == 0

    taken = await rig.take(agent)
    push = await agent.client.post(
        f"/api/v1/logs/{taken.id}",
        params={"start_from": 0},
        content='{"event": "cmd_output", "timestamp": 1, "output": "hi\\n"}',
        headers={"Authorization": f"Bearer {taken.payload['logger']['token']}"},
    )
    assert push.status_code == 200
    during = (await anon.get("/metrics")).text
    assert value(during, 'blockpost_queue_depth{agent_type="s1-local"}') == 1
    assert value(during, 'blockpost_agents{agent_type="s1-local",state="busy"}') == 1
    assert value(during, "blockpost_job_pickup_seconds_count") == 1
    assert value(during, 'blockpost_agent_syncs_total{state="waiting-for-jobs"}') >= 1
    assert value(during, "blockpost_log_pushes_total") == 1
    assert value(during, "blockpost_log_bytes_total") > 0
    await taken.report()
    await rig.run_jobs()
    after = (await anon.get("/metrics")).text
    assert value(after, 'blockpost_jobs{state="finished"}') == 2
    assert value(after, 'blockpost_pipelines{state="done"}') == 1
    assert "blockpost_queue_depth{" not in after  # nothing queued: no series


async def test_scheduler_lag_is_observed(rig: EngineRig, app: FastAPI) -> None:
    yml = (
        "apiVersion: v1.0\nkind: Schedule\nmetadata:\n  name: s\n"
        "spec:\n  project: rig\n  branch: master\n  at: '*/5 * * * *'\n"
    )
    assert (await rig.api.post(f"{API}/schedules", json={"yml_definition": yml})).status_code == 200
    scheduler = Scheduler(app.state.engine, metrics=app.state.metrics)
    await scheduler.run_once(datetime.now(UTC) + timedelta(minutes=6))
    text = (await rig.api.get("/metrics")).text
    assert value(text, "blockpost_scheduler_lag_seconds_count") == 1
    assert value(text, "blockpost_scheduler_lag_seconds_sum") >= 0
