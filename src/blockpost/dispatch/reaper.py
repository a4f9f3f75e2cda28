"""A loop that keeps the queue honest: lost agents fail their job, time limits stop jobs."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import events_log
from blockpost.background import LoopService
from blockpost.db.engine import Database
from blockpost.db.models import Agent, Job
from blockpost.dispatch import queue, registry, sync
from blockpost.dispatch.wakeup import Wakeups


class Reaper(LoopService):
    name = "reaper"

    def __init__(self, db: Database, wakeups: Wakeups, lease_seconds: int) -> None:
        super().__init__()
        self.db = db
        self.wakeups = wakeups
        self.lease_seconds = lease_seconds
        self.interval = max(lease_seconds / 4, 1.0)
        # No agent could sync while this server was down, so silence is only evidence of a
        # lost agent once the server has been listening for a whole lease.
        self.judge_agents_after = time.monotonic() + lease_seconds

    async def one_pass(self) -> None:
        await self.run_once()

    async def run_once(self) -> None:
        async with self.db.session() as session:
            for agent in await self._lost_agents(session):
                reason = f"agent {agent.name} was lost: no sync for {self.lease_seconds} s"
                events_log.emit_after_commit(
                    session,
                    "agent.lost",
                    agent=agent.name,
                    agent_type=agent.agent_type.name,
                    silent_seconds=self.lease_seconds,
                )
                await registry.remove(session, self.wakeups, agent, reason)
            orphans = await session.scalars(
                select(Job).where(Job.state == "running", Job.agent_id.is_(None))
            )
            for job in orphans:
                await queue.finish(
                    session, self.wakeups, job, "failed", "the agent running this job is gone"
                )
            for job in await queue.stale_running(session):
                await queue.request_stop(session, self.wakeups, job, queue.TIME_LIMIT_REASON)
            await registry.purge_released(session)

    async def _lost_agents(self, session: AsyncSession) -> list[Agent]:
        if time.monotonic() < self.judge_agents_after:
            return []
        return await sync.lost_agents(session, self.lease_seconds)
