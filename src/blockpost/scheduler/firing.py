"""Firing a schedule: start its workflow and record the trigger, once per cron tick."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Project, Schedule, ScheduleTrigger, User, Workflow
from blockpost.engine import runs
from blockpost.engine.context import EngineContext
from blockpost.errors import BlockpostError, InvalidInput
from blockpost.services.principal import Principal
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)


async def start(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    schedule: Schedule,
    *,
    branch: str,
    pipeline_file: str,
    parameters: Mapping[str, str],
) -> Workflow:
    """Starts the schedule's workflow; a branch the repository lacks is InvalidInput(branch)."""
    project = await session.get(Project, schedule.project_id)
    assert project is not None  # schedules go with their project
    run = runs.RunRequest(
        f"refs/heads/{branch}", None, pipeline_file, "schedule", parameters=parameters
    )
    try:
        workflow, _ = await runs.start_workflow(session, ctx, caller, project, run)
    except InvalidInput as exc:
        if exc.field == "reference":
            raise InvalidInput("branch", f"{branch!r} not found in the repository") from None
        raise
    return workflow


async def fire(
    session: AsyncSession, ctx: EngineContext, schedule: Schedule, tick: datetime
) -> ScheduleTrigger:
    """Records the tick's trigger (IntegrityError if another replica already did) and
    starts the workflow as the schedule's requester; a failure is recorded, not raised."""
    trigger = ScheduleTrigger(
        schedule_id=schedule.id,
        project_id=schedule.project_id,
        tick=tick,
        branch=schedule.branch,
        pipeline_file=schedule.pipeline_file,
        triggered_at=utcnow(),
    )
    session.add(trigger)
    await session.flush()
    requester = await session.scalar(select(User).where(User.uuid == schedule.requester_id))
    try:
        if requester is None:
            raise InvalidInput("requester", "the user who saved this schedule no longer exists")
        async with session.begin_nested():
            workflow = await start(
                session,
                ctx,
                Principal.of(requester),
                schedule,
                branch=schedule.branch,
                pipeline_file=schedule.pipeline_file,
                parameters=schedule.parameters,
            )
    except BlockpostError as exc:
        trigger.scheduling_status = "failed"
        trigger.error_description = exc.message
    except Exception as exc:
        log.exception("schedule %s could not start its workflow", schedule.id)
        trigger.scheduling_status = "failed"
        trigger.error_description = f"internal error ({type(exc).__name__}); see the server log"
    else:
        trigger.scheduling_status = "passed"
        trigger.scheduled_workflow_id = workflow.id
        trigger.scheduled_at = utcnow()
    await session.flush()
    return trigger
