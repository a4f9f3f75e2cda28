"""Troubleshoot (`/api/v1alpha/troubleshoot/{workflow|pipeline|job}/{id}`): what `sem
troubleshoot` prints, in the shape of Semaphore's public API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.db.models import Block, Job, Pipeline, Workflow
from blockpost.services import workflows
from blockpost.timefmt import custom

router = APIRouter(prefix="/api/v1alpha/troubleshoot", tags=["troubleshoot"])

# Semaphore's job states, by ours
_JOB_STATES = {"pending": "pending", "queued": "enqueued", "running": "started"}


def _time(value: datetime | None) -> str:
    """Semaphore's troubleshoot shows an unset time as ""."""
    return custom(value) if value is not None else ""


def _project(project_id: str, organization_id: str) -> dict[str, str]:
    return {"id": project_id, "organization_id": organization_id}


def _workflow(workflow: Workflow) -> dict[str, Any]:
    return {
        "wf_id": workflow.id,
        "initial_ppl_id": workflow.initial_ppl_id,
        "hook_id": workflow.hook_id,
        "requester_id": workflow.requester_id,
        "branch_id": workflow.branch_id,
        "branch_name": workflow.branch_name,
        "commit_sha": workflow.commit_sha,
        "created_at": _time(workflow.created_at),
        "triggered_by": workflow.triggered_by,
        "rerun_of": workflow.rerun_of or "",
        "repository_id": "",
    }


def _pipeline(pipeline: Pipeline) -> dict[str, Any]:
    directory, _, file_name = pipeline.yaml_file_path.rpartition("/")
    rerun_by = (pipeline.triggerer_user_id or "") if pipeline.partial_rerun_of else ""
    return {
        "ppl_id": pipeline.id,
        "name": pipeline.name,
        "created_at": _time(pipeline.created_at),
        "pending_at": _time(pipeline.pending_at),
        "queuing_at": _time(pipeline.queuing_at),
        "running_at": _time(pipeline.running_at),
        "stopping_at": _time(pipeline.stopping_at),
        "done_at": _time(pipeline.done_at),
        "state": pipeline.state,
        "result": pipeline.result or "",
        "result_reason": pipeline.result_reason or "",
        "terminate_request": pipeline.terminate_request,
        "error_description": pipeline.error_description,
        "switch_id": "",
        "working_directory": directory,
        "yaml_file_name": file_name,
        "terminated_by": pipeline.terminated_by,
        # the queue is kept only as its key: a hash of its scope and name
        "queue_id": pipeline.queue_key,
        "queue_name": "",
        "queue_scope": "",
        "queue_type": 0,
        "promotion_of": pipeline.promotion_of or "",
        "partial_rerun_of": pipeline.partial_rerun_of or "",
        "partially_rerun_by": rerun_by,
    }


def _block(block: Block) -> dict[str, Any]:
    return {
        "block_id": block.id,
        "name": block.name,
        "build_req_id": block.build_req_id,
        "state": block.state,
        "result": block.result or "",
        "result_reason": block.result_reason or "",
        "error_description": block.error_description,
    }


def _job(job: Job, block: Block) -> dict[str, Any]:
    return {
        "id": job.id,
        "build_req_id": block.build_req_id,
        "name": job.name,
        "state": _JOB_STATES.get(job.state, job.state),
        "failure_reason": job.result_reason if job.result == "failed" else "",
        "is_debug_job": False,
        "is_self_hosted": not job.machine_type,
        "machine_type": job.machine_type or job.agent_type,
        "os_image": job.os_image,
        "agent_name": job.agent_name,
        "created_at": _time(job.created_at),
        "enqueued_at": _time(job.queued_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "priority": 50,  # Semaphore's default; blockpost runs jobs oldest first
    }


@router.get("/workflow/{wf_id}", response_class=JSONResponse)
async def troubleshoot_workflow(
    wf_id: str, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JSONResponse:
    workflow = await workflows.visible_workflow(session, caller, wf_id)
    return JSONResponse(
        {
            "project": _project(workflow.project_id, settings.organization_id),
            "workflow": _workflow(workflow),
        }
    )


# `sem troubleshoot pipeline` asks for /troubleshoot/pipeline//{id} (its client adds a slash)
@router.get("/pipeline//{ppl_id}", response_class=JSONResponse, include_in_schema=False)
@router.get("/pipeline/{ppl_id}", response_class=JSONResponse)
async def troubleshoot_pipeline(
    ppl_id: str, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JSONResponse:
    pipeline, workflow = await workflows.describe_pipeline(session, caller, ppl_id)
    blocks = await workflows.blocks_of(session, pipeline.id)
    return JSONResponse(
        {
            "project": _project(pipeline.project_id, settings.organization_id),
            "workflow": _workflow(workflow),
            "pipeline": {**_pipeline(pipeline), "blocks": [_block(b) for b, _ in blocks]},
        }
    )


@router.get("/job/{job_id}", response_class=JSONResponse)
async def troubleshoot_job(
    job_id: str, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> JSONResponse:
    job, block, pipeline, workflow = await workflows.job_context(session, caller, job_id)
    return JSONResponse(
        {
            "project": _project(pipeline.project_id, settings.organization_id),
            "workflow": {**_workflow(workflow), "project_id": workflow.project_id},
            "pipeline": _pipeline(pipeline),
            "block": _block(block),
            "job": _job(job, block),
        }
    )
