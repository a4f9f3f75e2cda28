"""Schedules as users manage them: upsert from YAML, list, describe, pause, run now."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Project, Schedule, ScheduleTrigger, Workflow
from blockpost.db.paging import fetch_page
from blockpost.engine.context import EngineContext
from blockpost.errors import InvalidInput, NotFound
from blockpost.git import parse_reference, sync_ref
from blockpost.scheduler.definition import ScheduleDefinition, next_tick, parse_definition
from blockpost.scheduler.firing import parameter_values, start
from blockpost.scheduler.parameters import resolve, stored
from blockpost.services import projects
from blockpost.services.principal import Principal
from blockpost.timefmt import utcnow

TRIGGERS_SHOWN = 10


async def _check_branch(ctx: EngineContext, project: Project, branch: str) -> None:
    ref = parse_reference(f"refs/heads/{branch}", "spec.branch")
    repo = ctx.mirrors.for_project(project)
    try:
        await asyncio.to_thread(sync_ref, repo, ref, None)
    except InvalidInput:
        raise InvalidInput(
            "spec.branch", f"branch {branch!r} not found in {project.repository_url}"
        ) from None


async def _schedule_project(session: AsyncSession, caller: Principal, name: str) -> Project:
    try:
        return await projects.runnable(session, caller, name)
    except NotFound:
        raise InvalidInput("spec.project", f"project {name!r} not found") from None


# Semaphore answers 400, not 404, for a schedule it cannot find (or one the caller may not see)


async def visible_schedule(
    session: AsyncSession, caller: Principal, schedule_id: str, field: str = "id"
) -> Schedule:
    try:
        return await projects.visible_child(session, caller, Schedule, schedule_id, "schedule")
    except NotFound:
        raise InvalidInput(field, f"schedule {schedule_id!r} not found") from None


async def manageable_schedule(
    session: AsyncSession, caller: Principal, schedule_id: str, field: str = "id"
) -> Schedule:
    """The schedule, if the caller may change, delete or run it (its project's runners)."""
    try:
        return await projects.runnable_child(session, caller, Schedule, schedule_id, "schedule")
    except NotFound:
        raise InvalidInput(field, f"schedule {schedule_id!r} not found") from None


def _apply(schedule: Schedule, definition: ScheduleDefinition, caller: Principal) -> None:
    now = utcnow()
    if not definition.recurring:
        schedule.next_run_at = None
    elif schedule.at != definition.at or schedule.next_run_at is None:
        schedule.next_run_at = next_tick(definition.at, now)
    if schedule.paused != definition.paused:
        schedule.pause_toggled_by = caller.uuid
        schedule.pause_toggled_at = now
    schedule.name = definition.name
    schedule.branch = definition.branch
    schedule.at = definition.at
    schedule.pipeline_file = definition.pipeline_file
    schedule.paused = definition.paused
    schedule.recurring = definition.recurring
    schedule.description = definition.description
    schedule.parameters = [parameter.as_json() for parameter in definition.parameters]
    schedule.requester_id = caller.uuid
    schedule.updated_at = now


async def upsert(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    yml_definition: str,
    *,
    schedule: Schedule | None = None,
    project_name: str | None = None,
) -> Schedule:
    """Updates `schedule` (one the caller may manage), or the one the YAML's `metadata.id`
    names, or the one of its name in the project; otherwise creates one."""
    definition = parse_definition(yml_definition)
    if schedule is None and definition.id is not None:
        schedule = await manageable_schedule(session, caller, definition.id, "metadata.id")
    project = await _schedule_project(session, caller, project_name or definition.project)
    if schedule is not None and schedule.project_id != project.id:
        raise InvalidInput("spec.project", "a schedule cannot move to another project")
    if definition.branch:
        await _check_branch(ctx, project, definition.branch)
    if schedule is None:
        schedule = await session.scalar(
            select(Schedule).where(
                Schedule.project_id == project.id, Schedule.name == definition.name
            )
        )
    if schedule is None:
        number = await session.scalar(
            select(func.max(Schedule.number)).where(Schedule.project_id == project.id)
        )
        schedule = Schedule(
            project_id=project.id,
            number=(number or 0) + 1,
            at=definition.at,
            paused=definition.paused,
            inserted_at=utcnow(),
        )
        session.add(schedule)
    else:
        clash = await session.scalar(
            select(Schedule.id).where(
                Schedule.project_id == project.id,
                Schedule.name == definition.name,
                Schedule.id != schedule.id,
            )
        )
        if clash:
            raise InvalidInput("metadata.name", f"another schedule is named {definition.name!r}")
    _apply(schedule, definition, caller)
    await session.flush()
    return schedule


async def list_schedules(
    session: AsyncSession, caller: Principal, project_ref: str, offset: int, limit: int
) -> tuple[list[Schedule], int]:
    project = await projects.get_project(session, caller, project_ref)
    query = select(Schedule).where(Schedule.project_id == project.id).order_by(Schedule.name)
    return await fetch_page(session, query, offset, limit)


async def recent_triggers(session: AsyncSession, schedule: Schedule) -> Sequence[ScheduleTrigger]:
    rows = await session.scalars(
        select(ScheduleTrigger)
        .where(ScheduleTrigger.schedule_id == schedule.id)
        .order_by(ScheduleTrigger.triggered_at.desc(), ScheduleTrigger.id.desc())
        .limit(TRIGGERS_SHOWN)
    )
    return rows.all()


# The functions below act on a schedule the caller may manage (see manageable_schedule).


async def delete(session: AsyncSession, schedule: Schedule) -> None:
    await session.delete(schedule)
    await session.flush()


async def set_paused(
    session: AsyncSession, caller: Principal, schedule: Schedule, paused: bool
) -> Schedule:
    now = utcnow()
    if schedule.paused != paused:
        schedule.paused = paused
        schedule.pause_toggled_by = caller.uuid
        schedule.pause_toggled_at = now
        if not paused and schedule.recurring:
            # what came due while paused is not made up for
            schedule.next_run_at = next_tick(schedule.at, now)
        await session.flush()
    return schedule


async def run_now(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    schedule: Schedule,
    *,
    branch: str | None = None,
    tag: str | None = None,
    pipeline_file: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> tuple[ScheduleTrigger, Workflow]:
    """Starts the schedule's workflow now, as the caller (paused or not), on its branch or
    the branch or tag given, with its parameters' defaults under the values given; records
    a trigger."""
    values = resolve(stored(schedule.parameters), parameters or {})
    branch = None if tag else branch or schedule.branch
    if not branch and not tag:
        raise InvalidInput("reference", "this task has no branch of its own; give one to run")
    reference = f"refs/tags/{tag}" if tag else f"refs/heads/{branch}"
    pipeline_file = pipeline_file or schedule.pipeline_file
    workflow = await start(
        session,
        ctx,
        caller,
        schedule,
        reference=reference,
        pipeline_file=pipeline_file,
        parameters=values,
    )
    now = utcnow()
    trigger = ScheduleTrigger(
        schedule_id=schedule.id,
        project_id=schedule.project_id,
        branch=branch or "",
        reference=reference,
        pipeline_file=pipeline_file,
        parameter_values=parameter_values(values),
        run_now_requester_id=caller.uuid,
        scheduling_status="passed",
        scheduled_workflow_id=workflow.id,
        triggered_at=now,
        scheduled_at=now,
    )
    session.add(trigger)
    await session.flush()
    return trigger, workflow
