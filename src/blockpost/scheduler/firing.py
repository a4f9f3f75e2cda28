"""Firing a schedule: start its workflow and record the trigger, once per cron tick."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import events_log
from blockpost.db.models import Project, Schedule, ScheduleTrigger, User, Workflow
from blockpost.engine import runs
from blockpost.engine.context import EngineContext
from blockpost.errors import BlockpostError, InvalidInput
from blockpost.scheduler.parameters import resolve, stored
from blockpost.services.principal import Principal
from blockpost.timefmt import iso_seconds, utcnow


async def start(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    schedule: Schedule,
    *,
    reference: str,
    pipeline_file: str,
    parameters: Mapping[str, str],
) -> Workflow:
    """Starts the schedule's workflow at `reference` (refs/heads/… or refs/tags/…); one the
    repository lacks is InvalidInput naming the branch or the tag."""
    project = await session.get(Project, schedule.project_id)
    assert project is not None  # schedules go with their project
    run = runs.RunRequest(reference, None, pipeline_file, "schedule", parameters=parameters)
    try:
        workflow, _ = await runs.start_workflow(session, ctx, caller, project, run)
    except InvalidInput as exc:
        if exc.field == "reference":
            kind, _, name = reference.removeprefix("refs/").partition("/")
            if kind == "heads":
                raise InvalidInput("branch", f"{name!r} not found in the repository") from None
            raise InvalidInput(
                "reference.name", f"tag {name!r} not found in the repository"
            ) from None
        raise
    return workflow


def parameter_values(values: Mapping[str, str]) -> list[dict[str, str]]:
    """A trigger's record of the values a run got, as Semaphore lists them."""
    return [{"name": name, "value": value} for name, value in values.items()]


def tick_trigger(schedule: Schedule, tick: datetime) -> ScheduleTrigger:
    """The trigger of one cron tick, before its outcome is known."""
    return ScheduleTrigger(
        schedule_id=schedule.id,
        project_id=schedule.project_id,
        tick=tick,
        branch=schedule.branch,
        reference=f"refs/heads/{schedule.branch}",
        pipeline_file=schedule.pipeline_file,
        triggered_at=utcnow(),
    )


async def fire(
    session: AsyncSession, ctx: EngineContext, schedule: Schedule, tick: datetime
) -> ScheduleTrigger:
    """Starts the workflow as the schedule's requester and records the tick's trigger, which
    raises IntegrityError if another replica fired the tick (its transaction must then be
    rolled back, workflow and all). A refusal to start (unknown branch, unreachable
    repository) comes before anything is written, so it is recorded here, not raised.

    Nothing is written before the repository is fetched: on SQLite the first write takes
    the database's only write lock, and a fetch may take seconds. No savepoint either: on
    SQLite a read inside one pins a snapshot that a later write cannot upgrade."""
    trigger = tick_trigger(schedule, tick)
    requester = await session.scalar(select(User).where(User.uuid == schedule.requester_id))
    try:
        if requester is None:
            raise InvalidInput("requester", "the user who saved this schedule no longer exists")
        values = resolve(stored(schedule.parameters), {})
        trigger.parameter_values = parameter_values(values)
        workflow = await start(
            session,
            ctx,
            Principal.of(requester),
            schedule,
            reference=trigger.reference,
            pipeline_file=schedule.pipeline_file,
            parameters=values,
        )
    except BlockpostError as exc:
        trigger.scheduling_status = "failed"
        trigger.error_description = exc.message
    else:
        trigger.scheduling_status = "passed"
        trigger.scheduled_workflow_id = workflow.id
        trigger.scheduled_at = utcnow()
    session.add(trigger)
    await session.flush()
    events_log.emit_after_commit(
        session,
        "schedule.fired",
        schedule=schedule.name,
        project=schedule.project_id,
        tick=iso_seconds(tick),
        status=trigger.scheduling_status,
        workflow=trigger.scheduled_workflow_id,
        error=trigger.error_description or None,
    )
    return trigger
