"""The starter loop: starts the workflow of each accepted delivery, oldest first.

Deliveries wait in the database, so one accepted before a restart starts after it. They
start one at a time in the order they arrived, so of a burst of pushes to one branch the
newest workflow is created last and its pipeline is the one auto_cancel keeps.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import events_log
from blockpost.background import LoopService
from blockpost.db.models import HookDelivery, Project, User
from blockpost.dispatch.wakeup import Signal
from blockpost.engine import runs
from blockpost.engine.context import EngineContext
from blockpost.errors import BlockpostError
from blockpost.git import GitRef, Repository, parse_reference, sync_ref
from blockpost.hooks.rules import SKIP_MARKS
from blockpost.services.principal import Principal
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)
IDLE_SECONDS = 5.0  # also how soon a delivery taken by another replica is seen
BATCH = 50


def _resolve(repo: Repository, ref: GitRef, sha: str | None, head: str) -> tuple[str, str]:
    """The commit to run (fetching it) and the message [skip ci] is looked for in: the
    pushed commit's, or a pull request's head commit's (its merge commit's says "Merge")."""
    resolved = sync_ref(repo, ref, sha)
    message_of = head if head and repo.has_commit(head) else resolved
    return resolved, repo.commit_fields(message_of)["message"]


class Starter(LoopService):
    name = "hook-starter"
    interval = IDLE_SECONDS

    def __init__(self, ctx: EngineContext, signal: Signal) -> None:
        super().__init__()
        self.ctx = ctx
        self.signal = signal

    def wake_ups(self) -> list[asyncio.Event]:
        return [self.signal.ticket()]

    async def one_pass(self) -> None:
        await self.run_once()

    async def run_once(self) -> int:
        """Starts every accepted delivery; returns how many it handled."""
        handled = 0
        while True:
            async with self.ctx.db.session() as session:
                waiting = (
                    await session.scalars(
                        select(HookDelivery.id)
                        .where(HookDelivery.state == "accepted")
                        .order_by(HookDelivery.created_at, HookDelivery.id)
                        .limit(BATCH)
                    )
                ).all()
            for delivery_id in waiting:
                await self._start(delivery_id)
            handled += len(waiting)
            if len(waiting) < BATCH:
                return handled

    async def _start(self, delivery_id: str) -> None:
        try:
            async with self.ctx.db.session() as session:
                delivery = await session.get(HookDelivery, delivery_id)
                if delivery is None or delivery.state != "accepted":
                    return
                state, reason, workflow_id = await self._run(session, delivery)
                # the claim: another replica that started it first leaves nothing to change,
                # and this transaction (its workflow too) is rolled back
                claimed = await session.execute(
                    update(HookDelivery)
                    .where(HookDelivery.id == delivery_id, HookDelivery.state == "accepted")
                    .values(state=state, reason=reason, workflow_id=workflow_id, done_at=utcnow())
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    await session.rollback()
                    return
                events_log.webhook_decision(
                    session,
                    project=delivery.project_id,
                    provider=delivery.provider,
                    delivery=delivery_id,
                    decision=state,
                    reason=reason,
                )
        except Exception:
            log.exception("hook delivery %s failed to start", delivery_id)
            async with self.ctx.db.session() as session:
                await session.execute(
                    update(HookDelivery)
                    .where(HookDelivery.id == delivery_id, HookDelivery.state == "accepted")
                    .values(
                        state="failed",
                        reason="internal error; see the server log",
                        done_at=utcnow(),
                    )
                )

    async def _run(
        self, session: AsyncSession, delivery: HookDelivery
    ) -> tuple[str, str, str | None]:
        """(state, reason, workflow id). Nothing is written before the fetch: on SQLite the
        first write takes the only write lock (as the scheduler's firing does)."""
        project = await session.get(Project, delivery.project_id)
        owner = await session.get(User, project.owner_id) if project else None
        if project is None or owner is None:
            return "failed", "the project or its owner no longer exists", None
        try:
            ref = parse_reference(delivery.reference)
            pushed = delivery.commit_sha or None
            # a pull request runs its newest merge (or head), whatever the payload's sha
            sha = None if ref.type == "pull-request" else pushed
            head = delivery.pull_request.get("head_sha", "") if delivery.pull_request else ""
            repo = self.ctx.mirrors.for_project(project)
            resolved, message = await asyncio.to_thread(_resolve, repo, ref, sha, head)
            mark = next((m for m in SKIP_MARKS if m in message.lower()), None)
            if mark:
                return "skipped", f"the commit message says {mark}", None
            run = runs.RunRequest(
                delivery.reference,
                resolved,
                triggered_by="hook",
                hook_id=delivery.id,
                allowed_secrets=(
                    None if delivery.allowed_secrets is None else tuple(delivery.allowed_secrets)
                ),
            )
            workflow, _ = await runs.start_workflow(
                session, self.ctx, Principal.of(owner), project, run
            )
        except BlockpostError as exc:
            return "failed", exc.message, None
        return "started", f"started workflow {workflow.id}", workflow.id
