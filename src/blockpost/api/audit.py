"""`GET /api/v1alpha/audit`: the audit log, for administrators."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from blockpost.api.deps import AdminDep, SessionDep
from blockpost.api.pagination import PageDep
from blockpost.db.models import AuditEvent
from blockpost.services import audit
from blockpost.timefmt import iso_micros

router = APIRouter(prefix="/api/v1alpha/audit", tags=["audit"])

ResourceType = Literal["token", "user", "secret", "deployment_target", "promotion"]


class ActorOut(BaseModel):
    id: str | None = Field(description="the user's uuid; null for the system (CLI, engine)")
    name: str


class ResourceOut(BaseModel):
    type: str
    id: str
    name: str
    project_id: str | None


class AuditEventOut(BaseModel):
    id: int
    at: str = Field(description="`YYYY-MM-DDTHH:MM:SS.ffffffZ`")
    actor: ActorOut
    action: str = Field(description="`<resource type>.<what happened>`, e.g. `secret.updated`")
    resource: ResourceOut
    details: dict[str, Any] = Field(description="names and ids; never secret values")

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            at=iso_micros(event.at),
            actor=ActorOut(id=event.actor_id, name=event.actor_name),
            action=event.action,
            resource=ResourceOut(
                type=event.resource_type,
                id=event.resource_id,
                name=event.resource_name,
                project_id=event.project_id,
            ),
            details=event.details,
        )


@router.get("", response_model=list[AuditEventOut])
async def list_audit_events(
    request: Request,
    response: Response,
    session: SessionDep,
    _admin: AdminDep,
    page: PageDep,
    resource_type: Annotated[ResourceType | None, Query()] = None,
    resource_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[
        str | None, Query(max_length=100, description="a username, or `system`")
    ] = None,
) -> list[AuditEventOut]:
    """Changes to API tokens, users, secrets and deployment targets, and promotions: who,
    what, when, newest first, 30 to a page with a `link` header. Administrators only."""
    where = audit.AuditFilter(resource_type, resource_id, actor)
    rows, total = await audit.list_events(session, where, page.offset, page.page_size)
    page.headers(request, response, total)
    return [AuditEventOut.of(event) for event in rows]
