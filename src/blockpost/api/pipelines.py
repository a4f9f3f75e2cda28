"""Pipelines (`/api/v1alpha/pipelines`): describe (with blocks and jobs), list, terminate,
partial rebuild."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.api.jobs import STATES
from blockpost.api.pagination import PageDep
from blockpost.api.request_model import RequestModel
from blockpost.api.workflows import TRIGGERED_BY, WorkflowFilterDep
from blockpost.db.models import Block, Job, Pipeline, Workflow
from blockpost.engine import rebuild, runs
from blockpost.engine.promotions import AUTO_PROMOTER
from blockpost.errors import InvalidInput
from blockpost.services import projects, workflows
from blockpost.services.workflows import PipelineFilter, unix_time
from blockpost.timefmt import custom, seconds_nanos

router = APIRouter(prefix="/api/v1alpha/pipelines", tags=["pipelines"])


# Semaphore's TriggeredBy of a pipeline
PPL_TRIGGERED_BY = {"WORKFLOW": 0, "PROMOTION": 1, "AUTO_PROMOTION": 2, "PARTIAL_RE_RUN": 3}


def _result(item: Pipeline | Block, case: Callable[[str], str]) -> dict[str, str | None]:
    """Semaphore leaves `result` and `result_reason` out until a pipeline or block is done."""
    if item.state != "done":
        return {}
    return {
        "result": case(item.result) if item.result else None,
        "result_reason": case(item.result_reason) if item.result_reason else None,
    }


def triggerer(pipeline: Pipeline, workflow: Workflow, *, listed: bool) -> dict[str, Any]:
    """Who started the workflow and the pipeline; describe shows the enums as numbers, the
    list as names (Semaphore's describe answers the raw message, its list a decoded one)."""
    wf_name, wf_number = TRIGGERED_BY.get(workflow.triggered_by, ("API", 2))
    if pipeline.partial_rerun_of:
        by, by_id, user = "PARTIAL_RE_RUN", pipeline.partial_rerun_of, pipeline.triggerer_user_id
    elif pipeline.promotion_of and pipeline.promoted_by == AUTO_PROMOTER:
        by, by_id, user = "AUTO_PROMOTION", pipeline.promotion_of, ""
    elif pipeline.promotion_of:
        by, by_id, user = "PROMOTION", pipeline.promotion_of, pipeline.triggerer_user_id
    else:
        by, by_id, user = "WORKFLOW", workflow.id, workflow.requester_id
    return {
        "wf_triggered_by": wf_name if listed else wf_number,
        "wf_triggerer_id": workflow.hook_id if workflow.triggered_by == "hook" else "",
        "wf_triggerer_user_id": workflow.requester_id,
        "wf_triggerer_provider_login": "",
        "wf_triggerer_provider_uid": "",
        "wf_triggerer_provider_avatar": "",
        "ppl_triggered_by": by if listed else PPL_TRIGGERED_BY[by],
        "ppl_triggerer_id": by_id,
        "ppl_triggerer_user_id": user or "",
        "workflow_rerun_of": workflow.rerun_of or "",
    }


def pipeline_json(
    pipeline: Pipeline,
    workflow: Workflow,
    time: Callable[[datetime | None], Any],
    case: Callable[[str], str],
) -> dict[str, Any]:
    """Describe shows lowercase enums and "YYYY-MM-DD HH:MM:SS.ffffffZ" times; list shows
    uppercase and {seconds, nanos}: the same fields, as Semaphore returns them."""
    directory, _, file_name = pipeline.yaml_file_path.rpartition("/")
    listed = case is str.upper
    rerun_by = (pipeline.triggerer_user_id or "") if pipeline.partial_rerun_of else ""
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
        **_result(pipeline, case),
        "queuing_at": time(pipeline.queuing_at),
        "project_id": pipeline.project_id,
        "promotion_of": pipeline.promotion_of or "",
        "partial_rerun_of": pipeline.partial_rerun_of or "",
        "partially_rerun_by": rerun_by,
        "ppl_id": pipeline.id,
        "pending_at": time(pipeline.pending_at),
        "name": pipeline.name,
        "hook_id": workflow.hook_id,
        "error_description": pipeline.error_description,
        "done_at": time(pipeline.done_at),
        "created_at": time(pipeline.created_at),
        "commit_sha": workflow.commit_sha,
        "commit_message": workflow.commit_message,
        "branch_name": workflow.branch_name,
        "branch_id": workflow.branch_id,
        "triggerer": triggerer(pipeline, workflow, listed=listed),
    }


def block_json(block: Block, jobs: list[Job]) -> dict[str, Any]:
    return {
        "state": block.state,
        **_result(block, str.lower),
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


class TerminateIn(RequestModel):
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


@router.get("")
async def list_pipelines(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
    project_id: Annotated[str | None, Query(max_length=100)] = None,
    wf_id: Annotated[str | None, Query(max_length=100)] = None,
    yml_file_path: Annotated[str | None, Query(max_length=1024)] = None,
    done_after: int | None = None,
    done_before: int | None = None,
    *,
    of_workflow: WorkflowFilterDep,
) -> list[dict[str, Any]]:
    """Newest first, 30 to a page with paging headers; `project_id` or `wf_id` is required;
    the `*_after`/`*_before` bounds are Unix timestamps."""
    where = PipelineFilter(
        project_id=project_id,
        wf_id=wf_id,
        yml_file_path=yml_file_path,
        workflow=of_workflow,
        created_after=of_workflow.created_after,
        created_before=of_workflow.created_before,
        done_after=unix_time("done_after", done_after),
        done_before=unix_time("done_before", done_before),
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


class PartialRebuildOut(BaseModel):
    message: str
    pipeline_id: str


@router.post("/{ppl_id}/partial_rebuild", response_model=PartialRebuildOut)
async def partial_rebuild(
    pipeline: Annotated[Pipeline, Depends(_runnable)],
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
    request_token: Annotated[str, Query(min_length=1, max_length=255)],
) -> PartialRebuildOut:
    """Reruns the failed and stopped blocks of a done pipeline (and the blocks after them)
    in a new pipeline; passed blocks stay passed. The same `request_token` answers the
    same new pipeline."""
    rebuilt = await rebuild.partial_rebuild(session, engine, caller, pipeline, request_token)
    return PartialRebuildOut(message="", pipeline_id=rebuilt.id)
