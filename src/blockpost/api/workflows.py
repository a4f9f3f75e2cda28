"""Workflows (`/api/v1alpha/plumber-workflows`): run, describe, list, reschedule, terminate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from blockpost.api import multipart
from blockpost.api.deps import CallerDep, EngineDep, SessionDep, SettingsDep
from blockpost.api.pagination import PageDep
from blockpost.api.request_model import RequestModel
from blockpost.db.models import Workflow
from blockpost.engine import runs
from blockpost.errors import InvalidInput
from blockpost.services import projects, snapshots, workflows
from blockpost.services.workflows import WorkflowFilter, unix_time
from blockpost.timefmt import seconds_nanos

router = APIRouter(prefix="/api/v1alpha/plumber-workflows", tags=["workflows"])


async def _runnable(wf_id: str, session: SessionDep, caller: CallerDep) -> Workflow:
    return await projects.runnable_child(session, caller, Workflow, wf_id, "workflow")


RunnableWorkflow = Annotated[Workflow, Depends(_runnable)]


class RunIn(RequestModel):
    project_id: str = Field(min_length=1, max_length=100, description="project id or name")
    reference: str = Field(
        min_length=1, max_length=1024, description="refs/heads/X, refs/tags/X or refs/pull/N"
    )
    commit_sha: str | None = Field(default=None, max_length=40)
    pipeline_file: str | None = Field(
        default=None,
        max_length=1024,
        description="default: the project's, .semaphore/semaphore.yml",
    )


class RunOut(BaseModel):
    workflow_id: str
    pipeline_id: str
    hook_id: str


class Timestamp(BaseModel):
    seconds: int
    nanos: int


# Semaphore's TriggeredBy of a workflow: describe shows its name, the list its number
TRIGGERED_BY = {
    "hook": ("HOOK", 0),
    "schedule": ("SCHEDULE", 1),
    "api": ("API", 2),
    "manual_run": ("MANUAL_RUN", 3),
}


class WorkflowOut(BaseModel):
    wf_id: str
    requester_id: str
    project_id: str
    initial_ppl_id: str
    hook_id: str
    created_at: Timestamp
    commit_sha: str
    branch_name: str
    branch_id: str
    triggered_by: str | int
    rerun_of: str

    @classmethod
    def of(cls, workflow: Workflow, *, listed: bool = False) -> WorkflowOut:
        name, number = TRIGGERED_BY.get(workflow.triggered_by, ("API", 2))
        return cls(
            wf_id=workflow.id,
            requester_id=workflow.requester_id,
            project_id=workflow.project_id,
            initial_ppl_id=workflow.initial_ppl_id,
            hook_id=workflow.hook_id,
            created_at=Timestamp(**seconds_nanos(workflow.created_at)),
            commit_sha=workflow.commit_sha,
            branch_name=workflow.branch_name,
            branch_id=workflow.branch_id,
            triggered_by=number if listed else name,
            rerun_of=workflow.rerun_of or "",
        )


class DescribeOut(BaseModel):
    workflow: WorkflowOut


class RescheduleOut(BaseModel):
    wf_id: str
    ppl_id: str


class SnapshotOut(RunOut):
    wf_id: str  # the names `sem create workflow --follow` reads
    ppl_id: str


_RUN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RunIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["project_id", "snapshot_archive"],
                    "properties": {
                        "project_id": {"type": "string"},
                        "label": {"type": "string"},
                        "pipeline_file": {"type": "string"},
                        "snapshot_archive": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}


@router.post("", response_model=RunOut | SnapshotOut, openapi_extra=_RUN_BODY)
async def run_workflow(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> RunOut:
    """Runs the pipeline file at the reference (JSON or form body). An unknown reference or
    commit is a 400; a broken pipeline file gives a pipeline that ends failed/malformed.
    multipart/form-data with a `snapshot_archive` (a tar.gz, as `sem create workflow`
    sends it) runs the archive's contents instead, its branch the `label`."""
    content_type = request.headers.get("content-type", "")
    if multipart.is_multipart(content_type):
        form = multipart.parse(content_type, await request.body())
        fields = {name: part.data.decode("utf-8", "replace") for name, part in form.items()}
        if not fields.get("project_id"):
            raise InvalidInput("project_id", "is required")
        if "snapshot_archive" not in form or form["snapshot_archive"].filename is None:
            raise InvalidInput("snapshot_archive", "is required, as a file")
        workflow, pipeline = await snapshots.run_snapshot(
            session,
            engine,
            caller,
            fields["project_id"],
            fields.get("label", ""),
            form["snapshot_archive"].data,
            pipeline_file=fields.get("pipeline_file") or None,
            max_archive_bytes=settings.snapshot_max_bytes,
        )
        return SnapshotOut(
            workflow_id=workflow.id,
            pipeline_id=pipeline.id,
            hook_id=workflow.hook_id,
            wf_id=workflow.id,
            ppl_id=pipeline.id,
        )
    try:
        body = RunIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    project = await projects.runnable(session, caller, body.project_id)
    run = runs.RunRequest(body.reference, body.commit_sha or None, body.pipeline_file or None)
    workflow, pipeline = await runs.start_workflow(session, engine, caller, project, run)
    return RunOut(workflow_id=workflow.id, pipeline_id=pipeline.id, hook_id=workflow.hook_id)


def _workflow_filter(
    branch_name: Annotated[str | None, Query(max_length=1024)] = None,
    requester_id: Annotated[str | None, Query(max_length=100)] = None,
    label: Annotated[
        str | None, Query(max_length=1024, description="branch or tag name, or PR number")
    ] = None,
    git_ref_types: Annotated[
        list[str] | None, Query(description="branch, tag, pr: repeated or comma-separated")
    ] = None,
    created_after: int | None = None,
    created_before: int | None = None,
) -> WorkflowFilter:
    """The workflow list's filters, which the pipeline list takes too."""
    return WorkflowFilter(
        branch_name=branch_name,
        requester_id=requester_id,
        label=label,
        git_ref_types=workflows.git_ref_types(git_ref_types or []),
        created_after=unix_time("created_after", created_after),
        created_before=unix_time("created_before", created_before),
    )


WorkflowFilterDep = Annotated[WorkflowFilter, Depends(_workflow_filter)]


@router.get("", response_model=list[WorkflowOut])
async def list_workflows(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
    project_id: Annotated[str, Query(min_length=1, max_length=100)],
    where: WorkflowFilterDep,
) -> list[WorkflowOut]:
    """Newest first, 30 to a page with paging headers; `created_after`/`created_before`
    are Unix timestamps."""
    rows, total = await workflows.list_workflows(
        session, caller, project_id, where, page.offset, page.page_size
    )
    page.headers(request, response, total)
    return [WorkflowOut.of(row, listed=True) for row in rows]


@router.get("/{wf_id}", response_model=DescribeOut)
async def describe_workflow(wf_id: str, session: SessionDep, caller: CallerDep) -> DescribeOut:
    return DescribeOut(
        workflow=WorkflowOut.of(await workflows.visible_workflow(session, caller, wf_id))
    )


@router.post("/{wf_id}/reschedule", response_model=RescheduleOut)
async def reschedule_workflow(
    wf_id: str,
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
    request_token: Annotated[str, Query(description="required; at most 255 characters")] = "",
) -> RescheduleOut:
    """Runs the workflow's commit again; the same `request_token` returns the same new workflow."""
    workflow, pipeline = await runs.reschedule_workflow(
        session, engine, caller, wf_id, request_token
    )
    return RescheduleOut(wf_id=workflow.id, ppl_id=pipeline.id)


@router.post("/{wf_id}/terminate")
async def terminate_workflow(
    workflow: RunnableWorkflow, session: SessionDep, caller: CallerDep, engine: EngineDep
) -> dict[str, str]:
    """Stops every pipeline of the workflow that has not finished."""
    await runs.terminate_workflow(session, engine, workflow, caller.username)
    return {}
