"""The audit log: who changed tokens, users, secrets and deployment targets, and who
promoted which pipeline. Entries are written in the change's own transaction, so a change
and its entry are stored together or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import AuditEvent
from blockpost.db.paging import fetch_page
from blockpost.services.principal import Principal

SYSTEM = "system"  # the actor of changes made by the CLI on the server's host, or the engine


@dataclass(frozen=True)
class Resource:
    type: str
    id: str
    name: str = ""
    project_id: str | None = None


async def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    resource: Resource,
    details: dict[str, Any] | None = None,
) -> None:
    """`action` is "<resource type>.<past participle>", e.g. "secret.updated"."""
    session.add(
        AuditEvent(
            actor_id=actor.uuid if actor else None,
            actor_name=actor.username if actor else SYSTEM,
            action=f"{resource.type}.{action}",
            resource_type=resource.type,
            resource_id=resource.id,
            resource_name=resource.name,
            project_id=resource.project_id,
            details=details or {},
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    resource_type: str | None = None
    resource_id: str | None = None
    actor: str | None = None  # a username, or "system"


async def list_events(
    session: AsyncSession, where: AuditFilter, offset: int, limit: int
) -> tuple[list[AuditEvent], int]:
    """Newest first (the API lets administrators only ask)."""
    query = select(AuditEvent)
    if where.resource_type:
        query = query.where(AuditEvent.resource_type == where.resource_type)
    if where.resource_id:
        query = query.where(AuditEvent.resource_id == where.resource_id)
    if where.actor:
        query = query.where(AuditEvent.actor_name == where.actor)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return await fetch_page(session, query, offset, limit)
