"""Schedules (`/api/v1alpha/schedules`): list, describe, upsert, delete, run now, pause."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field, field_validator

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.api.pagination import PageDep
from blockpost.api.request_model import RequestModel
from blockpost.db.engine import after_commit
from blockpost.db.models import Schedule, ScheduleTrigger
from blockpost.scheduler import schedules
from blockpost.timefmt import custom

# the routes without a prefix: Semaphore serves the same ones as /api/v1alpha/tasks too
routes = APIRouter()


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    """Semaphore's shape: "YYYY-MM-DD HH:MM:SS.ffffffZ" times, "" for never toggled."""
    return {
        "description": schedule.description,
        "recurring": schedule.recurring,
        "parameters": schedule.parameters,
        "reference": f"refs/heads/{schedule.branch}" if schedule.branch else "",
        "updated_at": custom(schedule.updated_at),
        "suspended": False,
        "requester_id": schedule.requester_id,
        "project_id": schedule.project_id,
        "pipeline_file": schedule.pipeline_file,
        "paused": schedule.paused,
        "pause_toggled_by": schedule.pause_toggled_by,
        "pause_toggled_at": custom(schedule.pause_toggled_at) if schedule.pause_toggled_at else "",
        "name": schedule.name,
        "inserted_at": custom(schedule.inserted_at),
        "id": schedule.id,
        "branch": schedule.branch,
        "at": schedule.at,
    }


def trigger_json(trigger: ScheduleTrigger) -> dict[str, Any]:
    return {
        "triggered_at": custom(trigger.triggered_at),
        "scheduling_status": trigger.scheduling_status,
        "scheduled_workflow_id": trigger.scheduled_workflow_id,
        "scheduled_at": custom(trigger.scheduled_at) if trigger.scheduled_at else "",
        "run_now_requester_id": trigger.run_now_requester_id,
        "project_id": trigger.project_id,
        "pipeline_file": trigger.pipeline_file,
        "periodic_id": trigger.schedule_id,
        "error_description": trigger.error_description,
        "branch": trigger.branch,
        "reference": trigger.reference,
        "parameter_values": trigger.parameter_values,
    }


class UpsertIn(RequestModel):
    yml_definition: str = Field(min_length=1, max_length=64 * 1024)


class ReferenceIn(RequestModel):
    type: Literal["BRANCH", "TAG"] = "BRANCH"
    name: str = Field(min_length=1, max_length=1024)

    @field_validator("type", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("cannot be empty")
        return value.strip()


class ParameterValueIn(RequestModel):
    name: str = Field(min_length=1, max_length=255)
    value: str = Field(default="", max_length=64 * 1024)


class RunNowIn(RequestModel):
    reference: ReferenceIn | None = None
    branch: str | None = Field(default=None, min_length=1, max_length=1024)  # before reference
    pipeline_file: str | None = Field(default=None, min_length=1, max_length=1024)
    # `sem run task --param K=V` sends a map; a list of {name, value} is taken too
    parameters: dict[str, str] | list[ParameterValueIn] = Field(default={}, max_length=100)

    def values(self) -> dict[str, str]:
        if isinstance(self.parameters, dict):
            return self.parameters
        return {item.name: item.value for item in self.parameters}


async def _managed(schedule_id: str, session: SessionDep, caller: CallerDep) -> Schedule:
    return await schedules.manageable_schedule(session, caller, schedule_id)


async def _managed_if_named(
    session: SessionDep,
    caller: CallerDep,
    periodic_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Schedule | None:
    if not periodic_id:
        return None
    return await schedules.manageable_schedule(session, caller, periodic_id, "periodic_id")


ManagedSchedule = Annotated[Schedule, Depends(_managed)]


def _saved(request: Request, session: SessionDep) -> None:
    after_commit(session, request.app.state.wakeups.schedules.fire)


@routes.get("")
async def list_schedules(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
    project_id: Annotated[str, Query(min_length=1, max_length=100)],
) -> list[dict[str, Any]]:
    """The project's schedules by name, 30 to a page with a `link` header."""
    rows, total = await schedules.list_schedules(
        session, caller, project_id, page.offset, page.page_size
    )
    page.headers(request, response, total)
    return [schedule_json(row) for row in rows]


@routes.get("/{schedule_id}")
async def describe_schedule(
    schedule_id: str, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """The schedule and its last 10 triggers, newest first."""
    schedule = await schedules.visible_schedule(session, caller, schedule_id)
    triggers = await schedules.recent_triggers(session, schedule)
    return {"triggers": [trigger_json(t) for t in triggers], "schedule": schedule_json(schedule)}


@routes.post("")
async def upsert_schedule(
    body: UpsertIn,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
    named: Annotated[Schedule | None, Depends(_managed_if_named)],
    project_name: Annotated[str | None, Query(max_length=100)] = None,
) -> str:
    """Creates a schedule from a scheduler YAML, or updates the one `periodic_id` (or the
    YAML's `metadata.id`, or its `metadata.name` in the project) names; answers its id, as
    Semaphore does. Bad cron, unknown project or branch: 400."""
    schedule = await schedules.upsert(
        session, engine, caller, body.yml_definition, schedule=named, project_name=project_name
    )
    _saved(request, session)
    return schedule.id


@routes.delete("/{schedule_id}")
async def delete_schedule(schedule: ManagedSchedule, session: SessionDep) -> str:
    await schedules.delete(session, schedule)
    return "Schedule successfully deleted."


@routes.post("/{schedule_id}/run_now")
async def run_now(
    schedule: ManagedSchedule,
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
    body: RunNowIn | None = None,
) -> dict[str, Any]:
    """Runs the schedule's workflow now (paused or not), optionally at another reference
    (`{"type": "BRANCH" or "TAG", "name"}`, or `branch`) or pipeline file, with parameter
    values; the trigger records who asked."""
    body = body or RunNowIn()
    if body.reference is None:
        branch, tag = body.branch, None
    elif body.reference.type == "TAG":
        branch, tag = None, body.reference.name
    else:
        branch, tag = body.reference.name, None
    trigger, workflow = await schedules.run_now(
        session,
        engine,
        caller,
        schedule,
        branch=branch,
        tag=tag,
        pipeline_file=body.pipeline_file,
        parameters=body.values(),
    )
    return {"workflow_id": workflow.id, "trigger": trigger_json(trigger)}


@routes.post("/{schedule_id}/pause")
async def pause(
    schedule: ManagedSchedule, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    return schedule_json(await schedules.set_paused(session, caller, schedule, True))


@routes.post("/{schedule_id}/unpause")
async def unpause(
    schedule: ManagedSchedule, request: Request, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    await schedules.set_paused(session, caller, schedule, False)
    _saved(request, session)
    return schedule_json(schedule)


router = APIRouter()
router.include_router(routes, prefix="/api/v1alpha/schedules", tags=["schedules"])
