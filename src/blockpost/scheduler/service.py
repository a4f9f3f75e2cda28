"""The scheduler loop: sleeps until the next schedule is due, then fires it once.

Every replica runs one; a trigger row unique per (schedule, tick) makes sure a tick fires
once however many try. After downtime a schedule fires its earliest missed tick once and
then waits for its next tick: no burst of missed runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from blockpost.background import LoopService
from blockpost.db.models import Schedule
from blockpost.engine.context import EngineContext
from blockpost.metrics import Metrics
from blockpost.scheduler.definition import next_tick
from blockpost.scheduler.firing import fire, tick_trigger
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 30.0  # also how soon a schedule saved on another replica is noticed


class Scheduler(LoopService):
    name = "scheduler"
    interval = MAX_SLEEP_SECONDS

    def __init__(
        self,
        ctx: EngineContext,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.clock = clock
        self.metrics = metrics

    def wake_ups(self) -> list[asyncio.Event]:
        return [self.ctx.wakeups.schedules.ticket()]

    async def one_pass(self) -> float | None:
        following = await self.run_once()
        if following is None:
            return None
        return min(max((following - self.clock()).total_seconds(), 0.0), MAX_SLEEP_SECONDS)

    async def run_once(self, now: datetime | None = None) -> datetime | None:
        """Fires every schedule due at `now`; returns when the next one is due."""
        now = now or self.clock()
        async with self.ctx.db.session() as session:
            due = (
                await session.scalars(
                    select(Schedule.id).where(
                        Schedule.paused.is_(False), Schedule.next_run_at <= now
                    )
                )
            ).all()
        for schedule_id in due:
            await self._fire(schedule_id, now)
        async with self.ctx.db.session() as session:
            following: datetime | None = await session.scalar(
                select(func.min(Schedule.next_run_at)).where(Schedule.paused.is_(False))
            )
        return following

    async def _fire(self, schedule_id: str, now: datetime) -> None:
        try:
            async with self.ctx.db.session() as session:
                schedule = await session.get(Schedule, schedule_id)
                if schedule is None or schedule.paused or schedule.next_run_at is None:
                    return
                tick = schedule.next_run_at
                if tick > now:
                    return
                trigger = await fire(session, self.ctx, schedule, tick)
                schedule.next_run_at = next_tick(schedule.at, now)
                if self.metrics is not None:
                    self.metrics.scheduler_lag.observe((now - tick).total_seconds())
                log.info(
                    "schedule %s fired for %s: %s %s",
                    schedule.name,
                    tick.isoformat(),
                    trigger.scheduling_status,
                    trigger.error_description,
                )
        except IntegrityError:
            log.debug("tick of schedule %s was fired by another replica", schedule_id)
        except Exception as exc:
            log.exception("schedule %s failed to fire", schedule_id)
            await self._record_failure(schedule_id, now, exc)

    async def _record_failure(self, schedule_id: str, now: datetime, exc: Exception) -> None:
        """An unexpected error still moves the schedule on, so it is not retried every pass."""
        async with self.ctx.db.session() as session:
            schedule = await session.get(Schedule, schedule_id)
            if schedule is None or schedule.next_run_at is None or schedule.next_run_at > now:
                return
            trigger = tick_trigger(schedule, schedule.next_run_at)
            trigger.scheduling_status = "failed"
            trigger.error_description = f"internal error ({type(exc).__name__}); see the server log"
            session.add(trigger)
            schedule.next_run_at = next_tick(schedule.at, now)
