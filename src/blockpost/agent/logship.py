"""Ships job log events to the server in batches; a retried batch never duplicates lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

log = logging.getLogger(__name__)
BATCH_LINES = 2000
PUSH_EVERY = 0.2  # seconds between pushes while a job runs
FLUSH_TIMEOUT = 60.0
FLUSH_RETRY = 0.5


class Emits(Protocol):
    def emit(self, event: str, **fields: Any) -> None: ...


async def command(logs: Emits, directive: str, work: Callable[[], Awaitable[int]]) -> int:
    """One timed command in a job's log: cmd_started, what `work` writes, then cmd_finished
    with the exit code `work` returns."""
    started = int(time.time())
    logs.emit("cmd_started", directive=directive)
    code = await work()
    logs.emit(
        "cmd_finished",
        directive=directive,
        exit_code=code,
        started_at=started,
        finished_at=int(time.time()),
    )
    return code


class LogShipper:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        token: str,
        refresh: Callable[[], Awaitable[str]],
    ) -> None:
        self.client = client
        self.url = url
        self.token = token
        self.refresh = refresh
        self.lines: list[str] = []
        self.sent = 0
        self.full = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # one push at a time: two in flight with the same start_from would collide
        self._pushing = asyncio.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        self.lines.append(json.dumps({"event": event, "timestamp": int(time.time()), **fields}))
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.push()
            await asyncio.sleep(PUSH_EVERY)

    async def push(self) -> bool:
        """Sends what is unsent; True when everything is on the server (or it is full)."""
        async with self._pushing:
            return await self._push()

    async def _push(self) -> bool:
        while self.sent < len(self.lines) and not self.full:
            batch = self.lines[self.sent : self.sent + BATCH_LINES]
            try:
                response = await self.client.post(
                    self.url,
                    params={"start_from": self.sent},
                    content="\n".join(batch),
                    headers={"Authorization": f"Bearer {self.token}", "Content-Type": "text/plain"},
                )
            except httpx.HTTPError as exc:
                log.warning("log push failed (%s); will retry", exc)
                return False
            if response.status_code == 200:
                self.sent += len(batch)
            elif response.status_code == 401:
                self.token = await self.refresh()
            elif response.status_code == 422:
                log.warning("the server's log space for this job is exhausted")
                self.full = True
            else:
                log.warning("log push answered %s; will retry", response.status_code)
                return False
        return True

    async def close(self) -> None:
        if self._task:
            # never cut a push short: the server may still store it while we resend
            async with self._pushing:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _ in range(int(FLUSH_TIMEOUT / FLUSH_RETRY)):
            if await self.push():
                return
            await asyncio.sleep(FLUSH_RETRY)
