"""The pipeline page (its block graph and jobs, live) and the job page (its log, live)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.artifacts.paths import Key
from blockpost.artifacts.store import ArtifactStore
from blockpost.db.models import Pipeline
from blockpost.dispatch import logs, queue
from blockpost.engine import rebuild, runs
from blockpost.engine.states import JobState
from blockpost.services import jobs, pipeline_view, projects
from blockpost.services.principal import Principal
from blockpost.test_results import service as test_results
from blockpost.web.forms import posted
from blockpost.web.graph import layout
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
LIVE_EVERY_MS = 1000
# One answer of the log endpoint (events of at most 4 KiB each, as the agent reads output):
# a 10 MB log arrives in a few rounds, each quick for the browser to parse.
MAX_LOG_EVENTS = 500
MAX_ARTIFACTS = 50
MAX_FAILED_TESTS = 20


async def _artifacts(request: Request, level: str, owner: str) -> list[dict[str, Any]]:
    """Files under a workflow's or job's artifacts, first MAX_ARTIFACTS by path."""
    store: ArtifactStore = request.app.state.artifact_store
    key = Key(level, owner, "")
    base = len(key.text) + 1
    found = sorted(await store.list(key.text), key=lambda item: item.key)
    return [{"path": item.key[base:], "size": item.size} for item in found[:MAX_ARTIFACTS]]


async def _pipeline_context(
    request: Request, session: AsyncSession, caller: Principal, ppl_id: str
) -> dict[str, Any]:
    view = await pipeline_view.view_pipeline(session, caller, ppl_id)
    context: dict[str, Any] = {
        "view": view,
        "pipeline": view.pipeline,
        "workflow": view.workflow,
        "graph": layout([block for block, _ in view.blocks]),
        "live_every": LIVE_EVERY_MS,
        "request_token": str(uuid.uuid4()),
        "tests": None,
        "failed_tests": [],
        "artifacts": [],
    }
    if view.done:
        # Results and artifacts are complete once the pipeline is done; while it runs the
        # page refreshes every second and skips reading them.
        results = await test_results.pipeline_results(session, caller, ppl_id)
        if results["summary"]["total"]:
            context["tests"] = results["summary"]
            context["failed_tests"] = [
                test
                for result in results["testResults"]
                for suite in result["suites"]
                for test in suite["tests"]
                if test["state"] in ("failed", "error")
            ][:MAX_FAILED_TESTS]
        context["artifacts"] = await _artifacts(request, "workflows", view.workflow.id)
    return context


@router.get("/pipelines/{ppl_id}")
async def pipeline_page(
    ppl_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    context = await _pipeline_context(request, session, caller, ppl_id)
    return page(request, "pipeline.html", context)


@router.get("/pipelines/{ppl_id}/live")
async def pipeline_live(
    ppl_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    context = await _pipeline_context(request, session, caller, ppl_id)
    return page(request, "parts/pipeline_live.html", context)


@router.post("/pipelines/{ppl_id}/stop")
async def stop_pipeline(
    ppl_id: str, session: SessionDep, caller: CallerDep, engine: EngineDep
) -> Response:
    pipeline = await projects.runnable_child(session, caller, Pipeline, ppl_id, "pipeline")
    # Stopping what just ended is no error (the page may be a second behind): as in the API.
    await runs.terminate(session, engine, pipeline, caller.username)
    return RedirectResponse(f"/ui/pipelines/{pipeline.id}", status_code=303)


@router.post("/pipelines/{ppl_id}/rebuild")
async def rebuild_pipeline(
    ppl_id: str, request: Request, session: SessionDep, caller: CallerDep, engine: EngineDep
) -> Response:
    """Runs the pipeline's workflow again on the same commit, as the API's reschedule."""
    form = await posted(request)
    pipeline = await projects.runnable_child(session, caller, Pipeline, ppl_id, "pipeline")
    _, new = await runs.reschedule_workflow(
        session, engine, caller, pipeline.workflow_id, form.get("request_token")
    )
    return RedirectResponse(f"/ui/pipelines/{new.id}", status_code=303)


@router.post("/pipelines/{ppl_id}/partial_rebuild")
async def partial_rebuild(
    ppl_id: str, request: Request, session: SessionDep, caller: CallerDep, engine: EngineDep
) -> Response:
    form = await posted(request)
    pipeline = await projects.runnable_child(session, caller, Pipeline, ppl_id, "pipeline")
    new = await rebuild.partial_rebuild(
        session, engine, caller, pipeline, form.get("request_token")
    )
    return RedirectResponse(f"/ui/pipelines/{new.id}", status_code=303)


async def _job_context(
    request: Request, session: AsyncSession, caller: Principal, job_id: str
) -> dict[str, Any]:
    view = await pipeline_view.view_job(session, caller, job_id)
    return {
        "view": view,
        "job": view.job,
        "live_every": LIVE_EVERY_MS,
        "artifacts": await _artifacts(request, "jobs", view.job.id)
        if view.job.state == JobState.FINISHED
        else [],
    }


@router.get("/jobs/{job_id}")
async def job_page(
    job_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    return page(request, "job.html", await _job_context(request, session, caller, job_id))


@router.get("/jobs/{job_id}/live")
async def job_live(
    job_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    context = await _job_context(request, session, caller, job_id)
    return page(request, "parts/job_live.html", context)


@router.get("/jobs/{job_id}/log")
async def job_log(
    job_id: str,
    session: SessionDep,
    caller: CallerDep,
    start: Annotated[int, Query(alias="from", ge=0, le=10**9)] = 0,
) -> JSONResponse:
    """The log's events from index `from`, at most MAX_LOG_EVENTS; `finished` once the job
    is done and nothing more follows."""
    job = await jobs.visible_job(session, caller, job_id)
    events = await logs.events(session, job.id, start, MAX_LOG_EVENTS)
    following = start + len(events)
    return JSONResponse(
        {
            "events": events,
            "next": following,
            "finished": job.state == JobState.FINISHED and following >= job.log_events,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/jobs/{job_id}/raw")
async def job_raw_log(job_id: str, session: SessionDep, caller: CallerDep) -> Response:
    job = await jobs.visible_job(session, caller, job_id)
    text = logs.plain_text(await logs.events(session, job.id))
    return PlainTextResponse(
        text,
        headers={
            "Content-Disposition": f'attachment; filename="job-{job.id}.log"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/jobs/{job_id}/stop")
async def stop_job(
    job_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    job = await jobs.stoppable_job(session, caller, job_id)
    await queue.request_stop(
        session, request.app.state.wakeups, job, f"stopped by {caller.username}"
    )
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)
