"""Pipelines (`/api/v1alpha/pipelines`): describe (with blocks and jobs), list, terminate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.api.jobs import STATES
from blockpost.api.pagination import PageDep
from blockpost.db.models import Block, Job, Pipeline, Workflow
from blockpost.engine import runs
from blockpost.errors import InvalidInput
from blockpost.services import projects, workflows
from blockpost.services.workflows import PipelineFilter
from blockpost.timefmt import EPOCH_MAX, custom, from_epoch, seconds_nanos

router = APIRouter(prefix="/api/v1alpha/pipelines", tags=["pipelines"])


def _enum(value: str | None, case: Callable[[str], str]) -> str | None:
    return case(value) if value else None


def pipeline_json(
    pipeline: Pipeline,
    workflow: Workflow,
    time: Callable[[datetime | None], Any],
    case: Callable[[str], str],
) -> dict[str, Any]:
    """Describe shows lowercase enums and "YYYY-MM-DD HH:MM:SS.ffffffZ" times; list shows
    uppercase and {seconds, nanos}: the same fields, as Semaphore returns them."""
    directory, _, file_name = pipeline.yaml_file_path.rpartition("/")
    return {
        "yaml_file_name": file_name,
        "working_directory": directory,
        "wf_id": pipeline.workflow_id,
        "terminated_by": pipeline.terminated_by,
        "terminate_request": pipeline.terminate_request,
        "switch_id": "",
        "stopping_at": time(pipeline.stopping_at),
        "state": case(pipeline.state),
        "snapshot_id": "",
        "running_at": time(pipeline.running_at),
        "result_reason": _enum(pipeline.result_reason, case),
        "result": _enum(pipeline.result, case),
        "queuing_at": time(pipeline.queuing_at),
        "project_id": pipeline.project_id,
        "ppl_id": pipeline.id,
        "pending_at": time(pipeline.pending_at),
        "name": pipeline.name,
        "hook_id": workflow.hook_id,
        "error_description": pipeline.error_description,
        "done_at": time(pipeline.done_at),
        "created_at": time(pipeline.created_at),
        "commit_sha": workflow.commit_sha,
        "branch_name": workflow.branch_name,
        "branch_id": workflow.branch_id,
    }


def block_json(block: Block, jobs: list[Job]) -> dict[str, Any]:
    return {
        "state": block.state,
        "result_reason": block.result_reason,
        "result": block.result,
        "name": block.name,
        "jobs": [
            {
                "status": STATES.get(job.state, job.state.upper()),
                "result": (job.result or "none").upper(),
                "name": job.name,
                "job_id": job.id,
                "index": job.index,
            }
            for job in jobs
        ],
        "error_description": block.error_description,
        "build_req_id": block.build_req_id,
        "block_id": block.id,
    }


async def _runnable(ppl_id: str, session: SessionDep, caller: CallerDep) -> Pipeline:
    return await projects.runnable_child(session, caller, Pipeline, ppl_id, "pipeline")


class TerminateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terminate_request: bool


@router.get("/{ppl_id}", response_class=JSONResponse)
async def describe_pipeline(
    ppl_id: str,
    session: SessionDep,
    caller: CallerDep,
    detailed: Annotated[bool, Query(description="include blocks and their jobs")] = False,
) -> JSONResponse:
    """`detailed=true` adds the blocks and their jobs. Answered as built, without a second
    pass through FastAPI's encoder: CI scripts poll this endpoint."""
    pipeline, workflow = await workflows.describe_pipeline(session, caller, ppl_id)
    blocks = await workflows.blocks_of(session, pipeline.id) if detailed else []
    return JSONResponse(
        {
            "pipeline": pipeline_json(pipeline, workflow, custom, str.lower),
            "blocks": [block_json(block, jobs) for block, jobs in blocks],
        }
    )


def _stamp(name: str, value: int | None) -> datetime | None:
    if value is None:
        return None
    if not 0 <= value <= EPOCH_MAX:
        raise InvalidInput(name, f"must be a Unix timestamp between 0 and {EPOCH_MAX}")
    return from_epoch(value)


@router.get("")
async def list_pipelines(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
    project_id: Annotated[str | None, Query(max_length=100)] = None,
    wf_id: Annotated[str | None, Query(max_length=100)] = None,
    branch_name: Annotated[str | None, Query(max_length=1024)] = None,
    yml_file_path: Annotated[str | None, Query(max_length=1024)] = None,
    created_after: int | None = None,
    created_before: int | None = None,
    done_after: int | None = None,
    done_before: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first, 30 to a page with a `link` header; `project_id` or `wf_id` is required;
    the `*_after`/`*_before` bounds are Unix timestamps."""
    where = PipelineFilter(
        project_id=project_id,
        wf_id=wf_id,
        branch_name=branch_name,
        yml_file_path=yml_file_path,
        created_after=_stamp("created_after", created_after),
        created_before=_stamp("created_before", created_before),
        done_after=_stamp("done_after", done_after),
        done_before=_stamp("done_before", done_before),
    )
    rows, total = await workflows.list_pipelines(
        session, caller, where, page.offset, page.page_size
    )
    page.headers(request, response, total)
    return [pipeline_json(row, wf, seconds_nanos, str.upper) for row, wf in rows]


@router.patch("/{ppl_id}")
async def terminate_pipeline(
    pipeline: Annotated[Pipeline, Depends(_runnable)],
    body: TerminateIn,
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
) -> dict[str, str]:
    """`{"terminate_request": true}` stops the pipeline: running jobs are stopped, the rest
    canceled; it ends `done` with result `stopped` (or `canceled` if it had not started)."""
    if not body.terminate_request:
        raise InvalidInput("terminate_request", "must be true")
    await runs.terminate(session, engine, pipeline, caller.username)
    return {}
