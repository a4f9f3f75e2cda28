"""A project's commit statuses as delivered: what went where, and how each attempt went."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.commit_status.outbox import KIND
from blockpost.db.models import NotificationDelivery, Project
from blockpost.db.paging import fetch_page


async def deliveries(
    session: AsyncSession, project: Project, offset: int, limit: int
) -> tuple[list[NotificationDelivery], int]:
    """Newest first."""
    query = (
        select(NotificationDelivery)
        .where(NotificationDelivery.project_id == project.id, NotificationDelivery.kind == KIND)
        .order_by(NotificationDelivery.id.desc())
    )
    return await fetch_page(session, query, offset, limit)
