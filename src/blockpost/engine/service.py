"""The engine's loop: woken by changes (or its tick), it advances every unfinished pipeline."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select

from blockpost.background import LoopService
from blockpost.db.leader import LeaderLock
from blockpost.db.models import Job, Pipeline
from blockpost.dispatch import queue
from blockpost.engine.context import EngineContext
from blockpost.engine.initialize import initialize
from blockpost.engine.transitions import advance, finish_pipeline

log = logging.getLogger(__name__)
LEADER_KEY = 0x626C6B70_0001  # "blkp", engine


class Engine(LoopService):
    name = "engine"

    def __init__(self, ctx: EngineContext, tick: float) -> None:
        super().__init__()
        self.ctx = ctx
        self.interval = tick
        self.leader = LeaderLock(ctx.db, LEADER_KEY)
        self._moved = True  # the first pass looks at every pipeline
        self._looked_at_all = 0.0  # time.monotonic() of the last pass over every pipeline

    async def stop(self) -> None:
        await super().stop()
        await self.leader.release()

    def wake_ups(self) -> list[asyncio.Event]:
        return [self.ctx.wakeups.engine.ticket()]

    async def one_pass(self) -> float | None:
        # A wake-up names the pipelines that changed (a finished job, a new run): only they
        # are looked at, so a finished job costs one pipeline's pass however many run. Every
        # pipeline is looked at on the tick (time limits, a notification lost) and after a
        # pass that moved one (it may have unblocked another: its queue, a promotion).
        poked = self.ctx.wakeups.engine_changes()
        now = time.monotonic()
        everything = self._moved or not poked or now - self._looked_at_all >= self.interval
        if everything:
            self._looked_at_all = now
        self._moved = await self.run_once(None if everything else poked)
        return 0 if self._moved else None

    async def run_once(self, only: set[str] | None = None) -> bool:
        """Advances every unfinished pipeline (or those of `only`), oldest first; True when
        anything changed."""
        if not await self.leader.held():
            return False
        unfinished = select(Pipeline.id, Pipeline.state).where(Pipeline.state != "done")
        if only is not None:
            unfinished = unfinished.where(Pipeline.id.in_(only))
        async with self.ctx.db.session() as session:
            rows = (
                await session.execute(unfinished.order_by(Pipeline.created_at, Pipeline.id))
            ).all()
        changed = False
        for pipeline_id, state in rows:
            try:
                if state == "initializing":
                    changed |= await initialize(self.ctx, pipeline_id)
                else:
                    changed |= await self._advance(pipeline_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("pipeline %s failed inside the engine", pipeline_id)
                await self._fail(pipeline_id, exc)
                changed = True
        return changed

    async def _advance(self, pipeline_id: str) -> bool:
        async with self.ctx.db.session() as session:
            pipeline = await session.get(Pipeline, pipeline_id)
            if pipeline is None or pipeline.state == "done":
                return False
            return await advance(session, self.ctx, pipeline)

    async def _fail(self, pipeline_id: str, exc: Exception) -> None:
        """A pipeline the engine cannot handle ends failed/internal; its jobs are stopped."""
        async with self.ctx.db.session() as session:
            pipeline = await session.get(Pipeline, pipeline_id)
            if pipeline is None or pipeline.state == "done":
                return
            jobs = await session.scalars(
                select(Job).where(Job.pipeline_id == pipeline_id, Job.state != "finished")
            )
            for job in jobs.all():
                await queue.request_stop(session, self.ctx.wakeups, job, "internal error")
            await finish_pipeline(
                session,
                self.ctx,
                pipeline,
                "failed",
                "internal",
                f"internal error in the engine ({type(exc).__name__}); see the server log",
            )
