"""Self-hosted agents (`/api/v1alpha/agents`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.db.models import Agent
from blockpost.dispatch import registry
from blockpost.timefmt import epoch_int

router = APIRouter(prefix="/api/v1alpha/agents", tags=["agents"])


class AgentMetadataOut(BaseModel):
    name: str
    type: str
    connected_at: int
    version: str
    os: str
    arch: str
    hostname: str
    ip_address: str
    pid: int
    disabled_at: int | None = None


class AgentStatusOut(BaseModel):
    state: str


class AgentOut(BaseModel):
    metadata: AgentMetadataOut
    status: AgentStatusOut

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(
            metadata=AgentMetadataOut(
                name=agent.name,
                type=agent.agent_type.name,
                connected_at=epoch_int(agent.connected_at),
                version=agent.version,
                os=agent.os,
                arch=agent.arch,
                hostname=agent.hostname,
                ip_address=agent.ip_address,
                pid=agent.pid,
                disabled_at=epoch_int(agent.disabled_at),
            ),
            status=AgentStatusOut(state=registry.agent_state(agent)),
        )


class AgentListOut(BaseModel):
    agents: list[AgentOut]
    cursor: str


@router.get("", response_model=AgentListOut, response_model_exclude_none=True)
async def list_agents(
    session: SessionDep,
    _caller: CallerDep,
    agent_type: Annotated[str | None, Query(max_length=100)] = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> AgentListOut:
    """Connected agents by name; a non-empty `cursor` fetches the next page."""
    rows, next_cursor = await registry.list_agents(session, agent_type, page_size, cursor)
    return AgentListOut(agents=[AgentOut.of(agent) for agent in rows], cursor=next_cursor)


@router.get("/{name}", response_model=AgentOut, response_model_exclude_none=True)
async def describe_agent(name: str, session: SessionDep, _caller: CallerDep) -> AgentOut:
    return AgentOut.of(await registry.describe(session, name))
