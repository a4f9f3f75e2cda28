"""The poller loop: fetches each polled project's mirror and treats new heads as pushes.

For servers no forge can reach. A project polls every spec.repository.poll_interval
seconds, or every BLOCKPOST_POLL_INTERVAL_SECONDS when it sets none. The first poll only
notes the heads; later ones record a delivery (provider "poll") for each branch or tag
that is new or moved, decided by the same rules as a webhook's, and the starter starts it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.background import LoopService
from blockpost.db.models import HookDelivery, Project, ProjectHook
from blockpost.dispatch.wakeup import Signal
from blockpost.engine.context import EngineContext
from blockpost.errors import BlockpostError
from blockpost.git import Repository
from blockpost.hooks.events import HookEvent
from blockpost.hooks.receive import record
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)
PROVIDER = "poll"
TICK_SECONDS = 1.0  # how often due projects are looked for


def _poll(repo: Repository) -> dict[str, str]:
    repo.fetch()
    return repo.heads()


def _events(repo: Repository, before: dict[str, str], now: dict[str, str]) -> list[HookEvent]:
    """A push event for each head that is new or moved, by ref name."""
    events = []
    for ref, sha in sorted(now.items()):
        if before.get(ref) == sha:
            continue
        fields = repo.commit_fields(sha)
        kind = "tag" if ref.startswith("refs/tags/") else "branch"
        events.append(
            HookEvent(
                kind,
                "poll",
                reference=ref,
                commit_sha=sha,
                commit_message=fields["message"],
                commit_author=fields["author"],
            )
        )
    return events


class Poller(LoopService):
    name = "poller"
    interval = TICK_SECONDS

    def __init__(self, ctx: EngineContext, default_interval: int, started: Signal) -> None:
        super().__init__()
        self.ctx = ctx
        self.default_interval = default_interval
        self.started = started  # fired when deliveries were recorded: the starter looks

    async def one_pass(self) -> None:
        await self.run_once()

    async def run_once(self, now: datetime | None = None) -> int:
        """Polls every project that is due; returns how many deliveries it recorded."""
        now = now or utcnow()
        async with self.ctx.db.session() as session:
            rows = (
                await session.execute(
                    select(Project.id, ProjectHook.poll_interval, ProjectHook.polled_at).join(
                        ProjectHook, ProjectHook.project_id == Project.id, isouter=True
                    )
                )
            ).all()
        recorded = 0
        for project_id, interval, polled_at in rows:
            every = interval or self.default_interval
            if not every or (polled_at and polled_at + timedelta(seconds=every) > now):
                continue
            if await self._claim(project_id, polled_at, now):
                recorded += await self._poll_project(project_id)
        if recorded:
            self.started.fire()
        return recorded

    async def _claim(self, project_id: str, polled_at: datetime | None, now: datetime) -> bool:
        """Marks the project polled now unless another replica did since `polled_at`."""
        async with self.ctx.db.session() as session:
            hook = await session.get(ProjectHook, project_id)
            if hook is None:
                session.add(ProjectHook(project_id=project_id, poll_interval=0, polled_at=now))
                return True
            unchanged = (
                ProjectHook.polled_at.is_(None)
                if polled_at is None
                else ProjectHook.polled_at == polled_at
            )
            result = await session.execute(
                update(ProjectHook)
                .where(ProjectHook.project_id == project_id, unchanged)
                .values(polled_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _poll_project(self, project_id: str) -> int:
        async with self.ctx.db.session() as session:
            project = await session.get(Project, project_id)
            if project is None:
                return 0
            repo = self.ctx.mirrors.for_project(project)
        try:
            heads = await asyncio.to_thread(_poll, repo)
        except BlockpostError as exc:
            log.warning("polling project %s: %s", project_id, exc.message)
            return 0
        async with self.ctx.db.session() as session:
            hook = await session.get(ProjectHook, project_id)
            project = await session.get(Project, project_id)
            if hook is None or project is None:
                return 0
            before = hook.polled_heads
            hook.polled_heads = heads
            if before is None:
                return 0  # the first poll: what is there was pushed before polling began
            events = await asyncio.to_thread(_events, repo, before, heads)
            return await self._record(session, project, events)

    async def _record(
        self, session: AsyncSession, project: Project, events: list[HookEvent]
    ) -> int:
        recorded = 0
        for event in events:
            delivery_id = f"{event.reference[:200]}@{event.commit_sha}"
            seen = await session.scalar(
                select(HookDelivery.id).where(
                    HookDelivery.project_id == project.id,
                    HookDelivery.provider == PROVIDER,
                    HookDelivery.delivery_id == delivery_id,
                )
            )
            if seen is None:
                await record(session, project, PROVIDER, delivery_id, event)
                recorded += 1
        return recorded
