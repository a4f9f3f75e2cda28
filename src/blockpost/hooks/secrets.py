"""A project's webhook secret: made on rotation, shown once, kept sealed."""

from __future__ import annotations

import secrets as random
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.crypto import Sealer
from blockpost.db.models import Project, ProjectHook
from blockpost.timefmt import utcnow

SECRET_BYTES = 32


async def hook_of(session: AsyncSession, project: Project) -> ProjectHook:
    """The project's hook row, made (without a secret) the first time it is asked for."""
    hook = await session.get(ProjectHook, project.id)
    if hook is None:
        hook = ProjectHook(project_id=project.id, secret="", poll_interval=0)
        session.add(hook)
        await session.flush()
    return hook


async def rotate(session: AsyncSession, sealer: Sealer, project: Project) -> tuple[str, datetime]:
    """A new secret (the old one stops working at once), returned this once in the clear."""
    hook = await hook_of(session, project)
    secret = random.token_urlsafe(SECRET_BYTES)
    hook.secret = sealer.seal(secret)
    hook.rotated_at = utcnow()
    await session.flush()
    return secret, hook.rotated_at


def opened(sealer: Sealer, hook: ProjectHook | None) -> str | None:
    """The secret deliveries are checked with, None when the project has none yet."""
    if hook is None or not hook.secret:
        return None
    try:
        secret = sealer.open(hook.secret)
    except ValueError:
        return None  # sealed under another server key: rotate it
    return secret if isinstance(secret, str) else None
