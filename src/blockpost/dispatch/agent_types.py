"""Agent types: named pools of self-hosted agents, each with a registration token."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.engine import after_commit
from blockpost.db.models import Agent, AgentType, Job
from blockpost.dispatch.wakeup import Wakeups
from blockpost.errors import Conflict, InvalidInput, NotFound
from blockpost.security import new_token, token_hash
from blockpost.timefmt import utcnow

NAME_RE = re.compile(r"^s1-[a-zA-Z0-9-_]+$")
NAME_MAX = 100
ASSIGNMENT_ORIGINS = ("assignment_origin_agent",)


@dataclass(frozen=True)
class AgentTypeView:
    agent_type: AgentType
    total_agent_count: int
    registration_token: str | None = None  # only right after create or reset


def check_name(name: str) -> None:
    if not NAME_RE.match(name) or len(name) > NAME_MAX:
        raise InvalidInput(
            "metadata.name",
            f"The agent type name '{name}' is invalid: must follow the pattern "
            r"^s1-[a-zA-Z0-9-_]+$ (at most 100 characters)",
        )


def _check_settings(assignment_origin: str, release_after: int) -> None:
    if assignment_origin not in ASSIGNMENT_ORIGINS:
        raise InvalidInput(
            "spec.agent_name_settings.assignment_origin",
            f"invalid assignment_origin '{assignment_origin}' "
            "(blockpost supports assignment_origin_agent)",
        )
    if release_after < 0:
        raise InvalidInput("spec.agent_name_settings.release_after", "must be 0 or more seconds")


async def _counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    rows = await session.execute(
        select(Agent.agent_type_id, func.count())
        .where(Agent.agent_type_id.in_(ids), Agent.state == "registered")
        .group_by(Agent.agent_type_id)
    )
    return dict(rows.all())


@dataclass(frozen=True)
class Occupancy:
    """How busy a type is, as autoscalers ask: jobs waiting and running, agents free and busy."""

    queued: int
    running: int
    idle: int
    occupied: int


async def occupancy(session: AsyncSession, agent_type: AgentType) -> Occupancy:
    jobs = dict(
        (
            await session.execute(
                select(Job.state, func.count())
                .where(Job.agent_type == agent_type.name, Job.state.in_(("queued", "running")))
                .group_by(Job.state)
            )
        ).all()
    )
    busy = Agent.job_id.is_not(None)
    agents = dict(
        (
            await session.execute(
                select(busy, func.count())
                .where(Agent.agent_type_id == agent_type.id, Agent.state == "registered")
                .group_by(busy)
            )
        ).all()
    )
    return Occupancy(
        queued=jobs.get("queued", 0),
        running=jobs.get("running", 0),
        idle=agents.get(False, 0),
        occupied=agents.get(True, 0),
    )


async def get(session: AsyncSession, name: str) -> AgentType:
    agent_type = await session.scalar(select(AgentType).where(AgentType.name == name))
    if agent_type is None:
        raise NotFound(f"agent type {name!r} not found")
    return agent_type


async def describe(session: AsyncSession, name: str) -> AgentTypeView:
    agent_type = await get(session, name)
    return AgentTypeView(
        agent_type, (await _counts(session, [agent_type.id])).get(agent_type.id, 0)
    )


async def list_types(session: AsyncSession) -> list[AgentTypeView]:
    types = (await session.scalars(select(AgentType).order_by(AgentType.name))).all()
    counts = await _counts(session, [t.id for t in types])
    return [AgentTypeView(t, counts.get(t.id, 0)) for t in types]


async def create(
    session: AsyncSession,
    name: str,
    *,
    assignment_origin: str = "assignment_origin_agent",
    release_after: int = 0,
) -> AgentTypeView:
    check_name(name)
    _check_settings(assignment_origin, release_after)
    if await session.scalar(select(AgentType.id).where(AgentType.name == name)) is not None:
        raise Conflict(f"metadata.name: an agent type named {name!r} already exists")
    secret = new_token()
    agent_type = AgentType(
        name=name,
        token_hash=token_hash(secret),
        assignment_origin=assignment_origin,
        release_after=release_after,
    )
    session.add(agent_type)
    await session.flush()
    return AgentTypeView(agent_type, 0, secret)


async def update_settings(
    session: AsyncSession, name: str, *, assignment_origin: str | None, release_after: int | None
) -> AgentTypeView:
    agent_type = await get(session, name)
    origin = assignment_origin if assignment_origin is not None else agent_type.assignment_origin
    release = release_after if release_after is not None else agent_type.release_after
    _check_settings(origin, release)
    agent_type.assignment_origin = origin
    agent_type.release_after = release
    agent_type.updated_at = utcnow()
    await session.flush()
    return await describe(session, name)


async def reset_token(session: AsyncSession, name: str) -> AgentTypeView:
    """A new registration token; agents already registered keep working."""
    agent_type = await get(session, name)
    secret = new_token()
    agent_type.token_hash = token_hash(secret)
    agent_type.updated_at = utcnow()
    await session.flush()
    view = await describe(session, name)
    return AgentTypeView(view.agent_type, view.total_agent_count, secret)


async def delete(session: AsyncSession, name: str) -> None:
    view = await describe(session, name)
    if view.total_agent_count:
        raise Conflict(
            f"agent type {name!r} still has {view.total_agent_count} connected agent(s); "
            "disable them first (disable_all) and retry once they have disconnected"
        )
    await session.delete(view.agent_type)
    await session.flush()


async def disable_all(
    session: AsyncSession, wakeups: Wakeups, name: str, *, only_idle: bool
) -> None:
    """Marks agents disabled: idle ones are told to shut down, busy ones (when not
    only_idle) to stop their job first; held syncs are woken once this commits."""
    agent_type = await get(session, name)
    where = [Agent.agent_type_id == agent_type.id, Agent.state == "registered"]
    if only_idle:
        where.append(Agent.job_id.is_(None))
    rows = await session.execute(
        update(Agent)
        .where(*where, Agent.disabled_at.is_(None))
        .values(disabled_at=utcnow())
        .returning(Agent.id)
    )
    woken = [agent_id for (agent_id,) in rows]
    after_commit(session, lambda: [wakeups.agent_poked(agent_id) for agent_id in woken])
