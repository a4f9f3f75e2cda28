"""Held syncs end when something ends them: an idle timeout falling inside the hold, the
agent leaving while a sync of its is still held."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.agent_helpers import ProtocolAgent, create_type


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 8.0})


async def test_an_idle_timeout_inside_a_held_sync_is_answered_when_it_falls(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    agent = ProtocolAgent(app, await create_type(admin))
    assert (await agent.register(idle_timeout=2)).status_code == 201
    started = time.monotonic()
    answer = await agent.sync("waiting-for-jobs")
    waited = time.monotonic() - started
    assert (answer["action"], answer["shutdown_reason"]) == ("shutdown", "idle")
    assert 1.5 <= waited < 4, waited
    await agent.close()


async def test_a_sync_still_held_for_an_agent_that_disconnected_ends_at_once(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """An agent told to stop drops its held sync and says goodbye on a new request: the
    server must not keep holding the old one for the rest of the hold."""
    agent = ProtocolAgent(app, await create_type(admin))
    assert (await agent.register()).status_code == 201
    started = time.monotonic()
    held = asyncio.create_task(
        agent.client.post(
            "/api/v1/self_hosted_agents/sync",
            json={"state": "waiting-for-jobs", "job_id": "", "job_result": "", "interrupted_at": 0},
            headers=agent.auth(),
        )
    )
    await asyncio.sleep(0.5)
    bye = await agent.client.post("/api/v1/self_hosted_agents/disconnect", headers=agent.auth())
    assert bye.status_code == 200
    answer = await asyncio.wait_for(held, 3)
    assert answer.status_code == 404
    assert time.monotonic() - started < 3
    await agent.close()
