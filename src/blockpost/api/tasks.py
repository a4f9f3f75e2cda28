"""Task launch as Semaphore UI scripts do it: `POST /api/project/{project}/tasks`.

A "template" is a saved run configuration: a schedule (its project, branch and pipeline
file), named by its per-project number or its id. A task is one run of it; its id is the
trigger's integer id. `{project}` is the project's integer number, id or name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import storable
from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.db.models import Pipeline, Project, Schedule, ScheduleTrigger, Workflow
from blockpost.errors import InvalidInput, NotFound
from blockpost.scheduler import schedules
from blockpost.services import projects
from blockpost.timefmt import iso_seconds

router = APIRouter(prefix="/api/project/{project}/tasks", tags=["tasks (Semaphore UI)"])
STATUS = {
    "initializing": "waiting",
    "pending": "waiting",
    "queuing": "waiting",
    "running": "running",
    "stopping": "stopping",
}
DONE_STATUS = {"passed": "success", "failed": "error", "stopped": "stopped", "canceled": "stopped"}


class TaskIn(BaseModel):
    # Semaphore UI clients send more (debug, dry_run, environment...): accepted, unused
    model_config = ConfigDict(extra="ignore")

    template_id: int | str | None = Field(
        default=None, description="the schedule's number in the project, or its id"
    )


async def _runnable(project: str, session: SessionDep, caller: CallerDep) -> Project:
    found = await projects.get_project_by_any(session, caller, project)
    return await projects.ensure_runnable(session, caller, found)


async def _template(session: AsyncSession, project: Project, template: int | str) -> Schedule:
    text = str(template)
    if storable.ascii_digits(text):
        number = storable.whole_number(text)
        if number is None:
            raise InvalidInput(
                "template_id", f"must be a template's number (at most {storable.INT_MAX}) or id"
            )
        key = Schedule.number == number
    else:
        key = Schedule.id == text
    schedule = await session.scalar(select(Schedule).where(Schedule.project_id == project.id, key))
    if schedule is None:
        raise NotFound(f"template {template!r} not found in project {project.name!r}")
    return schedule


async def _task_json(
    session: AsyncSession, project: Project, schedule: Schedule, trigger: ScheduleTrigger
) -> dict[str, Any]:
    status, started, ended = "waiting", None, None
    workflow = await session.get(Workflow, trigger.scheduled_workflow_id or "")
    if workflow is not None:
        pipeline = await session.get(Pipeline, workflow.initial_ppl_id)
        if pipeline is not None:
            started, ended = pipeline.running_at, pipeline.done_at
            status = (
                DONE_STATUS.get(pipeline.result or "", "error")
                if pipeline.state == "done"
                else STATUS.get(pipeline.state, "waiting")
            )
    elif trigger.scheduling_status == "failed":
        status = "error"
    return {
        "id": trigger.id,
        "template_id": schedule.number,
        "project_id": project.number,
        "status": status,
        "debug": False,
        "dry_run": False,
        "message": trigger.error_description,
        "commit_hash": workflow.commit_sha if workflow else None,
        "created": iso_seconds(trigger.triggered_at),
        "start": iso_seconds(started),
        "end": iso_seconds(ended),
        "workflow_id": trigger.scheduled_workflow_id or None,
    }


@router.post("", status_code=201)
async def launch_task(
    found: Annotated[Project, Depends(_runnable)],
    body: TaskIn,
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
) -> dict[str, Any]:
    """Runs the template (schedule) now, as the caller; `GET .../tasks/{id}` follows it."""
    if body.template_id is None:
        raise InvalidInput("template_id", "is required")
    schedule = await _template(session, found, body.template_id)
    trigger, _ = await schedules.run_now(session, engine, caller, schedule)
    return await _task_json(session, found, schedule, trigger)


@router.get("/{task_id}")
async def describe_task(
    project: str, task_id: str, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """`status`: waiting, running, stopping, success, error or stopped."""
    found = await projects.get_project_by_any(session, caller, project)
    trigger_id = storable.whole_number(task_id)
    if trigger_id is None:
        raise NotFound(f"task {task_id!r} not found")
    trigger = await session.get(ScheduleTrigger, trigger_id)
    if trigger is None or trigger.project_id != found.id:
        raise NotFound(f"task {task_id} not found")
    schedule = await session.get(Schedule, trigger.schedule_id)
    assert schedule is not None  # triggers are deleted with their schedule
    return await _task_json(session, found, schedule, trigger)
