"""The agent sync protocol: what an agent reports, what the server answers.

A `waiting-for-jobs` or `running-job` sync is held open (up to `hold` seconds) until
there is something to say — a job to run, a stop — so a queued job reaches an idle
agent in milliseconds instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.engine import Database
from blockpost.db.models import Agent, Job
from blockpost.dispatch import queue, registry
from blockpost.dispatch.wakeup import Baton, Turn, Wakeups, wait_any
from blockpost.errors import InvalidInput, NotFound
from blockpost.timefmt import from_epoch, utcnow

STATES = ("waiting-for-jobs", "starting-job", "running-job", "stopping-job", "finished-job")
LEGACY_FAILED_STATES = ("failed-to-fetch-job", "failed-to-construct-job", "failed-to-send-callback")
# After a held sync the agent should come straight back: 0 would make the official agent
# pick a random 3-6 s, so 1 ms is the smallest useful value.
RECONNECT_MS = 1
RUNNING_HOLD = 2.0


@dataclass(frozen=True)
class SyncRequest:
    state: str
    job_id: str = ""
    job_result: str = ""
    interrupted_at: int = 0
    # Why the job ended so, when the agent says (blockpost's agent does; Semaphore's does not).
    job_result_reason: str = ""


@dataclass(frozen=True)
class SyncAnswer:
    action: str
    job_id: str = ""
    shutdown_reason: str = ""
    next_sync_after: int = RECONNECT_MS
    pickup_seconds: float | None = None  # for metrics; not part of the protocol

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "job_id": self.job_id,
            "shutdown_reason": self.shutdown_reason,
            "next_sync_after": self.next_sync_after,
        }


def _busy_interval() -> int:
    return random.randint(4000, 6000)


async def _load(session: AsyncSession, agent_id: int, token_hash: str) -> Agent:
    agent = await session.get(Agent, agent_id, populate_existing=True)
    if agent is None or agent.state != "registered" or agent.token_hash != token_hash:
        raise NotFound(registry.AGENT_GONE)
    return agent


def _record(agent: Agent, request: SyncRequest) -> None:
    now = utcnow()
    if agent.last_sync_state != request.state:
        agent.last_state_change_at = now
    agent.last_sync_at = now
    agent.last_sync_state = request.state
    if request.interrupted_at > 0 and agent.interrupted_at is None:
        agent.interrupted_at = from_epoch(request.interrupted_at)


def _interrupt_expired(agent: Agent) -> bool:
    if agent.interrupted_at is None:
        return False
    grace = timedelta(seconds=agent.interruption_grace_period)
    return utcnow() - agent.interrupted_at >= grace


def _idle_end(agent: Agent) -> datetime:
    """When an idle agent with an idle timeout is to be told to shut down."""
    if not agent.idle_timeout:
        return datetime.max.replace(tzinfo=UTC)
    return agent.last_state_change_at + timedelta(seconds=agent.idle_timeout)


async def _waiting(
    session: AsyncSession, wakeups: Wakeups, baton: Baton, agent: Agent
) -> SyncAnswer | None:
    if agent.disabled_at is not None:
        return SyncAnswer("shutdown", shutdown_reason="requested")
    if agent.interrupted_at is not None:
        return SyncAnswer("shutdown", shutdown_reason="interrupted")
    if agent.job_id is not None:
        # The agent lost track of a job we gave it (e.g. it restarted): that job failed.
        job = await session.get(Job, agent.job_id)
        if job is not None:
            await queue.finish(
                session, wakeups, job, "failed", "the agent stopped reporting this job"
            )
        await queue.release_agent(session, agent)
    # An idle fleet's syncs mostly find nothing: skip the claim while that is known.
    seen = baton.seen()
    containers = agent.can_run_containers
    claimed = None if baton.queue_empty(containers) else await queue.claim(session, agent)
    if claimed is None:
        baton.found_empty(seen, containers)
    else:
        return SyncAnswer(
            "run-job",
            job_id=claimed.job_id,
            next_sync_after=RECONNECT_MS,
            pickup_seconds=claimed.waited,
        )
    idle_for = (utcnow() - agent.last_state_change_at).total_seconds()
    if agent.idle_timeout and idle_for >= agent.idle_timeout:
        return SyncAnswer("shutdown", shutdown_reason="idle")
    return None


async def _running(session: AsyncSession, agent: Agent, job_id: str) -> SyncAnswer | None:
    job = await session.get(Job, job_id, populate_existing=True) if job_id else None
    if job is None or job.agent_id != agent.id or job.state != "running":
        return SyncAnswer("stop-job", job_id=job_id)
    if job.stop_requested_at is not None or agent.disabled_at is not None:
        return SyncAnswer("stop-job", job_id=job_id)
    if _interrupt_expired(agent):
        return SyncAnswer("stop-job", job_id=job_id)
    return None


async def _finished(
    db: Database, wakeups: Wakeups, agent_id: int, token_hash: str, request: SyncRequest
) -> SyncAnswer:
    """The job ends with the agent's result (unless it ended already or is another's); one
    transaction of two Core statements, the job's row before the agent's as in a claim."""
    result = request.job_result if request.job_result in queue.RESULTS else "failed"
    reason = request.job_result_reason or (
        "" if request.job_result else "the agent reported no result"
    )
    interrupted_at = from_epoch(request.interrupted_at) if request.interrupted_at > 0 else None
    async with db.session() as session:
        exists = request.job_id != "" and await queue.finish_reported(
            session, wakeups, agent_id, request.job_id, result, reason
        )
        agent = await registry.record_finished_sync(
            session,
            agent_id,
            token_hash,
            utcnow(),
            job_id=request.job_id,
            job_exists=exists,
            interrupted_at=interrupted_at,
        )
    if agent.disabled:
        return SyncAnswer("shutdown", shutdown_reason="requested")
    if agent.single_job:
        return SyncAnswer("shutdown", shutdown_reason="job-finished")
    if agent.interrupted:
        return SyncAnswer("shutdown", shutdown_reason="interrupted")
    return SyncAnswer("wait-for-jobs")


async def _wait(
    wakeups: Wakeups, tickets: list[asyncio.Event], deadline: datetime, interval: int
) -> SyncAnswer | None:
    """Holds the sync until a ticket fires (None: look again) or the hold ends."""
    if wakeups.closing.is_set():
        # this server is stopping: the agent comes back (to it or to another replica)
        return SyncAnswer("continue", next_sync_after=1000)
    remaining = (deadline - utcnow()).total_seconds()
    if remaining <= 0 or not await wait_any([*tickets, wakeups.closing], remaining):
        # No last look: the agent is back within next_sync_after, and that sync looks.
        return SyncAnswer("continue", next_sync_after=min(interval, 2000))
    return None


async def _hold_idle(
    db: Database,
    wakeups: Wakeups,
    agent_id: int,
    token_hash: str,
    agent_type: str,
    deadline: datetime,
) -> SyncAnswer | None:
    """An idle agent's sync without loading the agent: one UPDATE records it, a Core claim
    follows unless the type's queue is known empty, and with no job it waits; woken by a
    queued job, it does that again. None when the sync needs a full look (it is recorded
    by then): the agent has something to hear."""
    # Tickets before looking, as in `sync`.
    tickets = [wakeups.for_agent(agent_id).ticket()]
    baton = wakeups.for_type(agent_type)
    while True:
        turn: Turn | None = None
        looks_next = False
        try:
            async with db.session() as session:
                # Again after a wake-up: it also checks that the agent is still there.
                idle = await registry.record_idle_sync(session, agent_id, token_hash, utcnow())
                # In line only now that it is known which jobs the agent can run; nothing is
                # missed: a job announced meanwhile changed the generation `queue_empty` checks.
                turn = baton.join(idle.containers)
                if idle.needs_look:
                    looks_next = True
                    return None
                claimed = None
                if not baton.queue_empty(idle.containers):
                    seen = baton.seen()
                    claimed = await queue.claim_for(
                        session,
                        agent_id,
                        agent_type,
                        containers=idle.containers,
                        name=idle.name,
                        ip_address=idle.ip_address,
                    )
                    if claimed is None:
                        baton.found_empty(seen, idle.containers)
            if claimed is not None:
                return SyncAnswer("run-job", job_id=claimed.job_id, pickup_seconds=claimed.waited)
            held = await _wait(wakeups, [*tickets, turn], deadline, RECONNECT_MS)
            if held is not None:
                return held
            looks_next = True  # woken: it looks again, here or (told something) in full
            if tickets[0].is_set():
                return None
        finally:
            # A wake-up this sync got is used by the look that follows, or passed on.
            if turn is not None:
                baton.leave(turn, looked=looks_next)


async def sync(
    db: Database,
    wakeups: Wakeups,
    agent_id: int,
    token_hash: str,
    agent_type: str,
    request: SyncRequest,
    *,
    hold: float,
) -> SyncAnswer:
    """What the agent (its id, and the hash of the token it came with) is to do next."""
    if request.state in LEGACY_FAILED_STATES:
        request = SyncRequest("finished-job", request.job_id, "failed", request.interrupted_at)
    if request.state not in STATES:
        raise InvalidInput("state", f"must be one of {', '.join(STATES)}")
    if request.job_result and request.job_result not in queue.RESULTS:
        raise InvalidInput("job_result", f"must be one of {', '.join(queue.RESULTS)} or empty")
    if request.state == "running-job":
        # The official agent cannot cut a request short when its job ends, so a running
        # agent is held only briefly: stops still arrive within RUNNING_HOLD seconds.
        hold = min(hold, RUNNING_HOLD)
    if request.state == "finished-job":
        return await _finished(db, wakeups, agent_id, token_hash, request)
    deadline = utcnow() + timedelta(seconds=hold)
    first = True
    if request.state == "waiting-for-jobs" and request.interrupted_at <= 0:
        held = await _hold_idle(db, wakeups, agent_id, token_hash, agent_type, deadline)
        if held is not None:
            return held
        first = False  # recorded
    baton: Baton | None = None
    turn: Turn | None = None  # this sync's place among the type's waiting agents
    try:
        while True:
            async with db.session() as session:
                agent = await _load(session, agent_id, token_hash)
                if first:
                    _record(agent, request)
                    first = False
                # Tickets are taken before looking, so a wake-up between look and wait counts.
                tickets = [wakeups.for_agent(agent.id).ticket()]
                until = deadline
                if request.state == "waiting-for-jobs":
                    baton = wakeups.for_type(agent.agent_type.name)
                    turn = baton.join(agent.can_run_containers)
                    tickets.append(turn)
                    answer = await _waiting(session, wakeups, baton, agent)
                    until = min(deadline, _idle_end(agent))
                elif request.state == "running-job":
                    answer = await _running(session, agent, request.job_id)
                else:
                    answer = SyncAnswer("continue", next_sync_after=1000)
            if answer is not None:
                return answer
            interval = RECONNECT_MS if request.state == "waiting-for-jobs" else _busy_interval()
            held = await _wait(wakeups, tickets, until, interval)
            # An idle timeout that falls inside the hold is answered when it falls, not
            # at the agent's next sync (--disconnect-after-idle-timeout N: N s, not N + 20).
            if held is not None and (until == deadline or wakeups.closing.is_set()):
                return held
            if baton is not None and turn is not None:
                baton.leave(turn, looked=True)
                turn = None
    finally:
        if baton is not None and turn is not None:
            baton.leave(turn, looked=False)


async def lost_agents(session: AsyncSession, lease_seconds: int) -> list[Agent]:
    """Registered agents that have not synced within the lease (or never since registering)."""
    cutoff = utcnow() - timedelta(seconds=lease_seconds)
    last_heard = func.coalesce(Agent.last_sync_at, Agent.connected_at)
    rows = await session.scalars(
        select(Agent).where(Agent.state == "registered", last_heard < cutoff)
    )
    return list(rows)
