"""--disconnect-after-idle-timeout: an idle agent hears "shutdown" when its time is up,
even while its sync is held, not at the first sync after."""

from __future__ import annotations

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

