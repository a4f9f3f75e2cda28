"""Agents: registration with a type's token, lookup by agent token, listing, disconnect."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Update, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import events_log
from blockpost.db.models import Agent, AgentType, Job
from blockpost.dispatch import queue
from blockpost.dispatch.wakeup import Wakeups
from blockpost.errors import Conflict, InvalidInput, NotFound
from blockpost.security import new_token, token_hash
from blockpost.timefmt import utcnow


class AgentState(StrEnum):
    """What an agent is doing, as the agents API says it."""

    WAITING_FOR_JOB = "waiting_for_job"
    RUNNING_JOB = "running_job"


def agent_state(agent: Agent) -> AgentState:
    return AgentState.RUNNING_JOB if agent.job_id else AgentState.WAITING_FOR_JOB


NAME_RE = re.compile(r"^[a-zA-Z0-9-_/+]+$")
NAME_MAX = 80


@dataclass(frozen=True)
class Registration:
    name: str
    version: str = ""
    pid: int = 0
    os: str = ""
    arch: str = ""
    hostname: str = ""
    single_job: bool = False
    idle_timeout: int = 0
    interruption_grace_period: int = 0
    job_id: str = ""
    # blockpost's agent says whether it found docker or podman; Semaphore's agent says
    # nothing and has a docker compose executor.
    containers: bool = True


def random_name() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()


async def type_for_token(session: AsyncSession, token: str) -> AgentType | None:
    return await session.scalar(select(AgentType).where(AgentType.token_hash == token_hash(token)))


# What every agent request hears once its agent is gone: the agent registers again.
AGENT_GONE = "agent not found (removed as lost or disconnected); register again"


async def agent_for_token(session: AsyncSession, token: str) -> Agent | None:
    return await session.scalar(
        select(Agent).where(Agent.token_hash == token_hash(token), Agent.state == "registered")
    )


def _sync_update(
    agent_id: int, token_hash: str, now: datetime, state: str, **values: Any
) -> Update:
    """The UPDATE recording a sync in `state` by this agent (its token, still registered),
    with `values` besides; it matches no row once the agent is gone."""
    agents = Agent.__table__
    return (
        update(agents)
        .where(
            agents.c.id == agent_id,
            agents.c.token_hash == token_hash,
            agents.c.state == "registered",
        )
        .values(
            last_sync_at=now,
            last_sync_state=state,
            last_state_change_at=case(
                (agents.c.last_sync_state != state, now), else_=agents.c.last_state_change_at
            ),
            **values,
        )
    )


@dataclass(frozen=True)
class IdleSync:
    needs_look: bool  # the agent has more to hear than "no job yet"
    containers: bool  # it can run container jobs
    name: str
    ip_address: str


async def record_idle_sync(
    session: AsyncSession, agent_id: int, token_hash: str, now: datetime
) -> IdleSync:
    """Records a `waiting-for-jobs` sync in one statement; it needs a full look when the
    agent has more to hear than "no job yet" (disabled, interrupted, a job it lost track of,
    an idle timeout). Core, not the ORM: an idle fleet's syncs are most of a server's
    requests."""
    agents = Agent.__table__
    flags = (
        await session.execute(
            _sync_update(agent_id, token_hash, now, "waiting-for-jobs").returning(
                agents.c.disabled_at,
                agents.c.interrupted_at,
                agents.c.job_id,
                agents.c.idle_timeout,
                agents.c.can_run_containers,
                agents.c.name,
                agents.c.ip_address,
            )
        )
    ).first()
    if flags is None:
        raise NotFound(AGENT_GONE)
    *news, containers, name, ip_address = flags
    return IdleSync(needs_look=any(news), containers=containers, name=name, ip_address=ip_address)


@dataclass(frozen=True)
class FinishedSync:
    disabled: bool
    interrupted: bool
    single_job: bool


async def record_finished_sync(
    session: AsyncSession,
    agent_id: int,
    token_hash: str,
    now: datetime,
    *,
    job_id: str,
    job_exists: bool,
    interrupted_at: datetime | None,
) -> FinishedSync:
    """Records a `finished-job` sync in one statement (Core: after the idle sync, the
    busiest). The agent lets go of its job if it is the one reported, or of any job if the
    reported one exists (it may have lost track of what it held)."""
    agents = Agent.__table__
    values: dict[str, Any] = {
        "job_id": None
        if job_exists
        else case((agents.c.job_id == job_id, None), else_=agents.c.job_id),
    }
    if interrupted_at is not None:
        values["interrupted_at"] = func.coalesce(agents.c.interrupted_at, interrupted_at)
    row = (
        await session.execute(
            _sync_update(agent_id, token_hash, now, "finished-job", **values).returning(
                agents.c.disabled_at, agents.c.interrupted_at, agents.c.single_job
            )
        )
    ).first()
    if row is None:
        raise NotFound(AGENT_GONE)
    return FinishedSync(
        disabled=row.disabled_at is not None,
        interrupted=row.interrupted_at is not None,
        single_job=row.single_job,
    )


async def log_token_valid(session: AsyncSession, job_id: str, token: str) -> bool:
    """The token is the current log token of a running job (it ends with the job)."""
    found = await session.scalar(
        select(Job.id).where(Job.id == job_id, Job.log_token_hash == token_hash(token))
    )
    return found is not None


async def register(
    session: AsyncSession,
    wakeups: Wakeups,
    agent_type: AgentType,
    request: Registration,
    *,
    ip_address: str,
    user_agent: str,
) -> tuple[Agent, str]:
    """A new agent of `agent_type`. A registered agent of the same name and type is
    replaced: it is that agent starting again (after a crash, a restart of its machine or
    container) before its lease ran out, so whatever it was running is lost."""
    name = request.name or random_name()
    if len(name) > NAME_MAX or not NAME_RE.match(name):
        raise InvalidInput(
            "name", r"must be 1-80 characters matching ^[a-zA-Z0-9-_/+]+$ (URLs are not names)"
        )
    if request.job_id:
        raise InvalidInput("job_id", "starting an agent for one given job is not supported")
    existing = await session.scalar(select(Agent).where(Agent.name == name))
    if existing is not None:
        if existing.state == "registered" and existing.agent_type_id == agent_type.id:
            await remove(session, wakeups, existing, f"agent {name} registered again")
        elif existing.state == "registered":
            raise Conflict(f"name: an agent named {name!r} of another type is registered")
        elif not _released(existing):
            raise Conflict(f"name: {name!r} is reserved for a while after its disconnect")
        else:
            await session.delete(existing)
        await session.flush()
    secret = new_token()
    agent = Agent(
        name=name,
        agent_type_id=agent_type.id,
        token_hash=token_hash(secret),
        version=request.version[:64],
        os=request.os[:255],
        arch=request.arch[:64],
        hostname=request.hostname[:255],
        pid=request.pid,
        ip_address=ip_address[:64],
        user_agent=user_agent[:255],
        single_job=request.single_job,
        idle_timeout=max(request.idle_timeout, 0),
        interruption_grace_period=max(request.interruption_grace_period, 0),
        can_run_containers=request.containers,
    )
    session.add(agent)
    await session.flush()
    await session.refresh(agent, ["agent_type"])
    events_log.emit_after_commit(
        session, "agent.registered", agent=name, agent_type=agent_type.name, address=ip_address
    )
    return agent, secret


async def list_agents(
    session: AsyncSession, agent_type: str | None, page_size: int, cursor: str | None
) -> tuple[Sequence[Agent], str]:
    """Connected agents by name; the returned cursor ("" at the end) is the next page."""
    query = select(Agent).join(AgentType).where(Agent.state == "registered")
    if agent_type:
        query = query.where(AgentType.name == agent_type)
    if cursor:
        query = query.where(Agent.name > _decode_cursor(cursor))
    rows = (await session.scalars(query.order_by(Agent.name).limit(page_size + 1))).all()
    if len(rows) > page_size:
        return rows[:page_size], _encode_cursor(rows[page_size - 1].name)
    return rows, ""


def _encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor", "is not a cursor this server gave out") from None


async def describe(session: AsyncSession, name: str) -> Agent:
    agent = await session.scalar(
        select(Agent).where(Agent.name == name, Agent.state == "registered")
    )
    if agent is None:
        raise NotFound(f"agent {name!r} not found")
    return agent


async def _release_job(session: AsyncSession, wakeups: Wakeups, agent: Agent, reason: str) -> None:
    """The job of an agent that is going away: back in the queue if the agent never
    fetched it (it cannot have run), else failed with `reason`."""
    if agent.job_id is None:
        return
    job = await session.get(Job, agent.job_id)
    if job is None or job.state != "running":
        return
    if job.log_token_hash is None and job.agent_id == agent.id:
        await queue.requeue(session, wakeups, job)
    else:
        await queue.finish(session, wakeups, job, "failed", reason)


async def remove(session: AsyncSession, wakeups: Wakeups, agent: Agent, reason: str) -> None:
    """Removes an agent at once; the job it was running fails with `reason`."""
    await _release_job(session, wakeups, agent, reason)
    await session.execute(delete(Agent).where(Agent.id == agent.id))
    wakeups.forget_agent(agent.id)


async def remove_named(
    session: AsyncSession, wakeups: Wakeups, agent_type: str, names: Sequence[str], reason: str
) -> list[str]:
    """Removes the registered agents of `agent_type` with these names (a supervisor that
    saw its agent die); returns the names it found."""
    rows = await session.scalars(
        select(Agent)
        .join(AgentType)
        .where(AgentType.name == agent_type, Agent.name.in_(names), Agent.state == "registered")
    )
    found = []
    for agent in rows:
        await remove(session, wakeups, agent, reason)
        found.append(agent.name)
    await session.flush()
    return found


async def disconnect(session: AsyncSession, wakeups: Wakeups, agent: Agent) -> None:
    """Removes the agent, or keeps its name reserved for the type's release_after seconds;
    a job it still held fails."""
    await _release_job(session, wakeups, agent, "the agent disconnected during the job")
    if agent.agent_type.release_after:
        agent.state = "disconnected"
        agent.disconnected_at = utcnow()
        agent.job_id = None
    else:
        await session.execute(delete(Agent).where(Agent.id == agent.id))
    wakeups.forget_agent(agent.id)
    await session.flush()


def _released(agent: Agent) -> bool:
    """A disconnected agent's name is free again after its type's release_after."""
    return (
        agent.disconnected_at is None
        or agent.disconnected_at + timedelta(seconds=agent.agent_type.release_after) <= utcnow()
    )


async def purge_released(session: AsyncSession) -> None:
    """Deletes disconnected agents whose names are no longer reserved."""
    rows = await session.scalars(select(Agent).where(Agent.state == "disconnected"))
    for agent in rows:
        if _released(agent):
            await session.delete(agent)
    await session.flush()
