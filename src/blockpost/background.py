"""The base of the server's loop services (reaper, engine, scheduler): start and stop."""

from __future__ import annotations

import asyncio
import contextlib


class LoopService:
    """Runs `_loop` as one background task from start() until stop()."""

    name = "loop"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"blockpost-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        raise NotImplementedError
