"""Wake-ups: a queued job wakes its agents, a stop its agent, a pipeline change the engine.

In one process an asyncio event does it; across server replicas on PostgreSQL, NOTIFY
(sent in the same transaction as the change) reaches every replica's listener. Either is
only a hint: a held sync also re-checks the database when its hold time runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

JOBS_CHANNEL = "blockpost_jobs"
AGENTS_CHANNEL = "blockpost_agents"
ENGINE_CHANNEL = "blockpost_engine"
ENGINE_POKES_KEPT = 1000


class Signal:
    """Take `ticket()` before checking the database, then wait on it: no wake-up is lost."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        return self._event

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


class Turn(asyncio.Event):
    """A waiting agent's place in its type's line."""

    def __init__(self, containers: bool) -> None:
        super().__init__()
        self.containers = containers  # the agent can run container jobs
        self.for_containers = False  # it was woken for a container job


# What a claim saw when it began: (announcements of any job, of jobs any agent may run).
Seen = tuple[int, int]


class Baton:
    """Hands each queued job's wake-up to one waiting agent, oldest waiter first; a
    container job's only to an agent that can run containers.

    A broadcast made every agent of the type that was waiting try a claim that all but one
    lost: with 50 agents waiting, 50 transactions per job. A waiter that is fired while it
    is not waiting (it was looking, and leaves with an answer) passes the wake-up on, so
    none is lost.

    It also remembers that the type's queue was found empty, so an idle agent's sync can
    skip the claim until a job is announced. That memory is trusted for EMPTY_TRUST_SECONDS
    only: a notification lost with a replica's LISTEN connection delays a job at most that.
    An agent that cannot run containers finding nothing says only that no other job waits:
    a container job may still, for the agents that can.
    """

    EMPTY_TRUST_SECONDS = 5.0

    def __init__(self) -> None:
        self._waiters: deque[Turn] = deque()
        self.generation = 0  # counts announcements
        self.plain_generation = 0  # counts announcements of jobs that need no containers
        self._empty_at: tuple[int, float] | None = None  # no job at all
        self._plain_empty_at: tuple[int, float] | None = None  # none but container jobs

    def seen(self) -> Seen:
        return self.generation, self.plain_generation

    def queue_empty(self, containers: bool = True) -> bool:
        """True when a claim found nothing this agent could run since the last
        announcement of such a job, recently."""
        if _trusted(self._empty_at, self.generation):
            return True
        return not containers and _trusted(self._plain_empty_at, self.plain_generation)

    def found_empty(self, seen: Seen, containers: bool = True) -> None:
        """A claim that began having `seen` these announcements found nothing (the claim of
        an agent that can run containers, or of one that cannot)."""
        generation, plain_generation = seen
        if containers and generation == self.generation:
            self._empty_at = (generation, time.monotonic())
        elif not containers and plain_generation == self.plain_generation:
            self._plain_empty_at = (plain_generation, time.monotonic())

    def join(self, containers: bool = True) -> Turn:
        """Take before looking at the queue; wait on it; `leave` when done with it."""
        ticket = Turn(containers)
        self._waiters.append(ticket)
        return ticket

    def leave(self, ticket: Turn, *, looked: bool) -> None:
        """`looked`: the holder looks at the queue after this (it was woken to do so)."""
        if ticket.is_set():
            if not looked:
                self.fire(1, containers=ticket.for_containers)
            return
        with contextlib.suppress(ValueError):
            self._waiters.remove(ticket)

    def fire(self, count: int, *, containers: bool = False) -> None:
        """`count` jobs were queued; `containers`: they are container jobs."""
        self.generation += 1
        if not containers:
            self.plain_generation += 1
        woken = [t for t in self._waiters if t.containers or not containers][:count]
        for ticket in woken:
            self._waiters.remove(ticket)
            ticket.for_containers = containers
            ticket.set()


def _trusted(empty_at: tuple[int, float] | None, generation: int) -> bool:
    if empty_at is None:
        return False
    found_at, at = empty_at
    return found_at == generation and time.monotonic() - at < Baton.EMPTY_TRUST_SECONDS


def jobs_notification(agent_type: str, count: int, containers: bool) -> str:
    """The JOBS_CHANNEL payload announcing `count` queued jobs of a type."""
    return f"{agent_type} {count}" + (" containers" if containers else "")


async def wait_any(tickets: list[asyncio.Event], within: float) -> bool:
    """True as soon as one ticket fires; False when `within` seconds pass first."""
    if any(ticket.is_set() for ticket in tickets):
        return True
    waiters = [asyncio.ensure_future(ticket.wait()) for ticket in tickets]
    try:
        done, _ = await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)


class Wakeups:
    def __init__(self) -> None:
        # Stamped on this process's notifications: their echo through its own LISTEN is
        # ignored, the change was announced here once committed (a second wake-up would
        # make a second agent look for the same job, the engine pass twice).
        self.origin = secrets.token_hex(6)
        self._types: dict[str, Baton] = {}
        self._agents: dict[int, Signal] = {}
        self._logs: dict[str, Signal] = {}
        self.engine = Signal()
        # The pipelines poked since the engine last took them; None: any may have changed.
        self._engine_poked: set[str] | None = None
        self.schedules = Signal()  # a schedule was saved: the scheduler looks again
        # set when the server begins to shut down: held requests answer at once
        self.closing = asyncio.Event()

    def close(self) -> None:
        self.closing.set()

    def for_log(self, job_id: str) -> Signal:
        return self._logs.setdefault(job_id, Signal())

    def log_written(self, job_id: str) -> None:
        self.for_log(job_id).fire()

    def forget_log(self, job_id: str) -> None:
        self._logs.pop(job_id, None)

    def for_type(self, agent_type: str) -> Baton:
        return self._types.setdefault(agent_type, Baton())

    def for_agent(self, agent_id: int) -> Signal:
        return self._agents.setdefault(agent_id, Signal())

    def job_queued(self, agent_type: str, count: int = 1, *, containers: bool = False) -> None:
        self.for_type(agent_type).fire(count, containers=containers)

    def agent_poked(self, agent_id: int) -> None:
        self.for_agent(agent_id).fire()

    def engine_poked(self, pipeline_id: str | None = None) -> None:
        """The pipeline changed (None: any may have)."""
        # Past a bound it is "any": a process that runs no engine (an HTTP worker) keeps
        # hearing pokes and never takes them.
        if pipeline_id is None or len(self._engine_poked or ()) >= ENGINE_POKES_KEPT:
            self._engine_poked = None
        elif self._engine_poked is not None:
            self._engine_poked.add(pipeline_id)
        self.engine.fire()

    def engine_changes(self) -> set[str] | None:
        """The pipelines poked since the last call (None: any may have changed)."""
        poked, self._engine_poked = self._engine_poked, set()
        return poked

    def forget_agent(self, agent_id: int) -> None:
        """The agent is gone: a sync of its still held (its client dropped it) ends now."""
        signal = self._agents.pop(agent_id, None)
        if signal is not None:
            signal.fire()

    def stamped(self, payload: str) -> str:
        return f"{payload} @{self.origin}"

    def on_notification(self, channel: str, payload: str) -> None:
        payload, _, origin = payload.partition(" @")
        if origin == self.origin:
            return
        if channel == JOBS_CHANNEL:
            agent_type, _, rest = payload.partition(" ")
            count, _, kind = rest.partition(" ")
            self.job_queued(
                agent_type, int(count) if count.isdigit() else 1, containers=kind == "containers"
            )
        elif channel == AGENTS_CHANNEL and payload.isdigit():
            self.agent_poked(int(payload))
        elif channel == ENGINE_CHANNEL:
            self.engine_poked(payload or None)


Connect = Callable[[], Awaitable[asyncpg.Connection]]


class PostgresListener:
    """LISTENs on one dedicated connection and turns notifications into local wake-ups."""

    def __init__(self, connect: Connect, wakeups: Wakeups) -> None:
        self._connect = connect
        self._wakeups = wakeups
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="blockpost-listen")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("LISTEN connection lost; retrying in 1 s", exc_info=True)
            await asyncio.sleep(1)

    async def _listen_once(self) -> None:
        conn = await self._connect()
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _conn: closed.set())
        try:
            for channel in (JOBS_CHANNEL, AGENTS_CHANNEL, ENGINE_CHANNEL):
                await conn.add_listener(channel, self._received)
            await closed.wait()
        finally:
            await conn.close()

    def _received(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        self._wakeups.on_notification(channel, str(payload))
