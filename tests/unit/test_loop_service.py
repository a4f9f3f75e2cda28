"""The loop every background service runs: passes, waits, wake-ups, and failures survived."""

from __future__ import annotations

import asyncio
import logging

import pytest

from blockpost.background import LoopService
from blockpost.dispatch.wakeup import Signal


class Recorder(LoopService):
    """Passes as scripted: a number is the wait it asks for, an exception is raised; once
    the script is done it asks for 30 s."""

    name = "recorder"
    interval = 30.0

    def __init__(
        self, script: list[float | Exception | None], signal: Signal | None = None
    ) -> None:
        super().__init__()
        self.script = script
        self.signal = signal
        self.passes = 0
        self.done = asyncio.Event()

    def wake_ups(self) -> list[asyncio.Event]:
        return [self.signal.ticket()] if self.signal else []

    async def one_pass(self) -> float | None:
        self.passes += 1
        step = self.script.pop(0) if self.script else 30.0
        if not self.script:
            self.done.set()
        if isinstance(step, Exception):
            raise step
        return step


async def test_a_failed_pass_is_logged_and_the_passes_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = Recorder([RuntimeError("database away"), 30.0])
    service.interval = 0.01  # what a failed pass waits
    service.start()
    await asyncio.wait_for(service.done.wait(), 5)
    await service.stop()
    assert service.passes == 2
    assert "recorder pass failed; trying again" in caplog.text
    assert [r.levelno for r in caplog.records if "recorder" in r.getMessage()] == [logging.ERROR]


async def test_a_pass_asking_for_no_wait_is_followed_at_once_and_none_waits_the_interval() -> None:
    service = Recorder([0, 0, None])
    service.start()
    await asyncio.sleep(0.2)
    await service.stop()
    assert service.passes == 3  # the third pass asked for the 30 s interval


async def test_a_wake_up_during_a_pass_ends_the_wait_after_it() -> None:
    signal = Signal()
    service = Recorder([None, None], signal)
    service.start()
    await asyncio.sleep(0.1)
    assert service.passes == 1  # waiting out the 30 s interval
    signal.fire()
    await asyncio.wait_for(service.done.wait(), 5)
    await service.stop()
    assert service.passes == 2
