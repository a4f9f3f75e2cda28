"""A project's deliveries, newest first, and its hook settings as the API shows them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import HookDelivery, Project, ProjectHook
from blockpost.db.paging import fetch_page
from blockpost.errors import InvalidInput

# 0 turns polling off; below this a project would fetch its remote too often
MIN_POLL_INTERVAL = 10
MAX_POLL_INTERVAL = 86400


async def deliveries(
    session: AsyncSession, project: Project, offset: int, limit: int
) -> tuple[list[HookDelivery], int]:
    query = (
        select(HookDelivery)
        .where(HookDelivery.project_id == project.id)
        .order_by(HookDelivery.created_at.desc(), HookDelivery.id.desc())
    )
    return await fetch_page(session, query, offset, limit)


def check_poll_interval(seconds: int, where: str = "spec.repository.poll_interval") -> None:
    if seconds != 0 and not MIN_POLL_INTERVAL <= seconds <= MAX_POLL_INTERVAL:
        raise InvalidInput(
            where,
            f"must be 0 (no polling) or {MIN_POLL_INTERVAL} to {MAX_POLL_INTERVAL} seconds, "
            f"got {seconds}",
        )


async def set_poll_interval(session: AsyncSession, project: Project, seconds: int) -> None:
    check_poll_interval(seconds)
    hook = await session.get(ProjectHook, project.id)
    if hook is None:
        session.add(ProjectHook(project_id=project.id, secret="", poll_interval=seconds))
    else:
        hook.poll_interval = seconds
    await session.flush()
