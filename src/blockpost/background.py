"""The base of the server's loop services (reaper, engine, scheduler…): passes until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from blockpost.dispatch.wakeup import wait_any

log = logging.getLogger(__name__)


class LoopService:
    """Runs one background task from start() until stop(): a pass, then a wait of
    `interval` seconds, cut short when the pass asks for less or a wake-up fires.
    Work that is not made of passes (the agent supervisor) overrides `_loop` instead."""

    name = "loop"
    interval = 1.0

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"blockpost-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake_ups(self) -> list[asyncio.Event]:
        """Tickets taken before each pass (so none fired during it is missed): one firing
        ends the wait after the pass at once."""
        return []

    async def one_pass(self) -> float | None:
        """One pass; how many seconds to wait before the next (None: `interval`; 0: none)."""
        raise NotImplementedError

    async def _loop(self) -> None:
        while True:
            tickets = self.wake_ups()
            wait: float | None = None
            try:
                wait = await self.one_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A failed pass (the database away for a moment, a bug in one row) must
                # not end the service: the next pass comes as usual.
                log.exception("%s pass failed; trying again", self.name)
            wait = self.interval if wait is None else wait
            if wait <= 0:
                continue
            if tickets:
                await wait_any(tickets, wait)
            else:
                await asyncio.sleep(wait)
