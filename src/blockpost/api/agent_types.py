"""Self-hosted agent types (`/api/v1alpha/self_hosted_agent_types`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from blockpost.api.deps import AdminDep, CallerDep, SessionDep
from blockpost.api.request_model import RequestModel
from blockpost.dispatch import agent_types
from blockpost.dispatch.agent_types import AgentTypeView
from blockpost.timefmt import epoch_int

router = APIRouter(prefix="/api/v1alpha/self_hosted_agent_types", tags=["agent types"])


# `sem` sends back what it read: `aws: {}`, `status`, metadata times; those are ignored.


class NameSettingsIn(RequestModel):
    assignment_origin: str | None = Field(default=None, max_length=40)
    release_after: int | None = Field(default=None, ge=0, le=10 * 365 * 86400)


class SpecIn(RequestModel):
    agent_name_settings: NameSettingsIn = NameSettingsIn()


class MetadataIn(RequestModel):
    name: str = Field(min_length=1, max_length=100)


class AgentTypeIn(RequestModel):
    metadata: MetadataIn
    spec: SpecIn = SpecIn()


class AgentTypeUpdateIn(RequestModel):
    """The name is the path's; the body's metadata is not read."""

    spec: SpecIn = SpecIn()


class DisableIn(RequestModel):
    only_idle: bool = True


class MetadataOut(BaseModel):
    name: str
    create_time: int
    update_time: int


class NameSettingsOut(BaseModel):
    assignment_origin: str
    release_after: int


class SpecOut(BaseModel):
    agent_name_settings: NameSettingsOut


class StatusOut(BaseModel):
    total_agent_count: int
    registration_token: str | None = Field(
        default=None, description="Only in the answer to create and reset_token."
    )


class AgentTypeOut(BaseModel):
    metadata: MetadataOut
    spec: SpecOut
    status: StatusOut

    @classmethod
    def of(cls, view: AgentTypeView) -> AgentTypeOut:
        agent_type = view.agent_type
        return cls(
            metadata=MetadataOut(
                name=agent_type.name,
                create_time=epoch_int(agent_type.created_at),
                update_time=epoch_int(agent_type.updated_at),
            ),
            spec=SpecOut(
                agent_name_settings=NameSettingsOut(
                    assignment_origin=agent_type.assignment_origin,
                    release_after=agent_type.release_after,
                )
            ),
            status=StatusOut(
                total_agent_count=view.total_agent_count,
                registration_token=view.registration_token,
            ),
        )


class AgentTypeListOut(BaseModel):
    agent_types: list[AgentTypeOut]


@router.get("", response_model=AgentTypeListOut, response_model_exclude_none=True)
async def list_agent_types(session: SessionDep, _caller: CallerDep) -> AgentTypeListOut:
    return AgentTypeListOut(
        agent_types=[AgentTypeOut.of(v) for v in await agent_types.list_types(session)]
    )


@router.post("", response_model=AgentTypeOut, response_model_exclude_none=True)
async def create_agent_type(
    body: AgentTypeIn, session: SessionDep, _admin: AdminDep
) -> AgentTypeOut:
    """Creates an agent type (administrators); the answer holds its registration token."""
    settings = body.spec.agent_name_settings
    view = await agent_types.create(
        session,
        body.metadata.name,
        assignment_origin=settings.assignment_origin or "assignment_origin_agent",
        release_after=settings.release_after or 0,
    )
    return AgentTypeOut.of(view)


@router.get("/{name}", response_model=AgentTypeOut, response_model_exclude_none=True)
async def describe_agent_type(name: str, session: SessionDep, _caller: CallerDep) -> AgentTypeOut:
    return AgentTypeOut.of(await agent_types.describe(session, name))


@router.patch("/{name}", response_model=AgentTypeOut, response_model_exclude_none=True)
async def update_agent_type(
    name: str, body: AgentTypeUpdateIn, session: SessionDep, _admin: AdminDep
) -> AgentTypeOut:
    """Changes `spec.agent_name_settings` (administrators)."""
    settings = body.spec.agent_name_settings
    view = await agent_types.update_settings(
        session,
        name,
        assignment_origin=settings.assignment_origin,
        release_after=settings.release_after,
    )
    return AgentTypeOut.of(view)


@router.delete("/{name}")
async def delete_agent_type(name: str, session: SessionDep, _admin: AdminDep) -> dict[str, str]:
    """Deletes the type (administrators); 409 while agents of it are connected."""
    await agent_types.delete(session, name)
    return {}


@router.post("/{name}/disable_all")
async def disable_all(
    name: str,
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    body: DisableIn | None = None,
) -> dict[str, str]:
    """Disables the type's agents: idle ones only (default) or all (`only_idle=false`)."""
    only_idle = body.only_idle if body is not None else True
    await agent_types.disable_all(session, request.app.state.wakeups, name, only_idle=only_idle)
    return {}


@router.post("/{name}/reset_token", response_model=AgentTypeOut, response_model_exclude_none=True)
async def reset_token(name: str, session: SessionDep, _admin: AdminDep) -> AgentTypeOut:
    """Issues a new registration token (administrators); connected agents keep working."""
    return AgentTypeOut.of(await agent_types.reset_token(session, name))
