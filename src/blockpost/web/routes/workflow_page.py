"""A workflow's page: its pipelines (live while any runs) and their promotion forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.db.models import Pipeline
from blockpost.engine import promotions
from blockpost.errors import InvalidInput, NotFound
from blockpost.services import projects, workflow_pages
from blockpost.services.principal import Principal
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PARAMETER = "param."
# How often the pipeline list refreshes while a pipeline runs (milliseconds)
LIVE_EVERY = 1500


@dataclass
class Attempt:
    """A promotion form as it was posted, to show again with why it was refused."""

    pipeline_id: str
    name: str
    values: dict[str, str]
    override: bool
    error: str


def _offered(attempt: Attempt | None, pipelines: list[Pipeline]) -> bool:
    """Whether the page has the form the attempt came from (to show its error beside it)."""
    return attempt is not None and any(
        pipeline.id == attempt.pipeline_id
        and any(d["name"] == attempt.name for d in pipeline.promotions)
        for pipeline in pipelines
    )


def _list_context(listed: workflow_pages.WorkflowPipelines) -> dict[str, Any]:
    return {
        "listed": listed,
        "workflow": listed.workflow,
        "pipelines": listed.pipelines,
        "numbers": {pipeline.id: index + 1 for index, pipeline in enumerate(listed.pipelines)},
        "live_every": LIVE_EVERY,
    }


async def _page_context(
    session: AsyncSession, caller: Principal, wf_id: str, attempt: Attempt | None = None
) -> dict[str, Any]:
    shown = await workflow_pages.workflow_page(session, caller, wf_id)
    return {
        **_list_context(shown),
        "shown": shown,
        "project": shown.project,
        "attempt": attempt,
        "stray_error": ""
        if attempt is None or _offered(attempt, shown.pipelines)
        else attempt.error,
    }


async def _workflow_page(
    request: Request,
    session: AsyncSession,
    caller: Principal,
    wf_id: str,
    attempt: Attempt | None = None,
    status: int = 200,
) -> Response:
    context = await _page_context(session, caller, wf_id, attempt)
    return page(request, "workflow.html", context, status)


@router.get("/workflows/{wf_id}")
async def workflow_page(
    request: Request, wf_id: str, session: SessionDep, caller: CallerDep
) -> Response:
    return await _workflow_page(request, session, caller, wf_id)


@router.get("/workflows/{wf_id}/pipelines")
async def pipeline_list(
    request: Request, wf_id: str, session: SessionDep, caller: CallerDep
) -> Response:
    """The live part of the page (app.js replaces the list with it)."""
    listed = await workflow_pages.workflow_pipelines(session, caller, wf_id)
    return page(request, "parts/workflow_pipelines.html", _list_context(listed))


@router.get("/workflows/{wf_id}/promotions")
async def promotion_forms(
    request: Request, wf_id: str, session: SessionDep, caller: CallerDep
) -> Response:
    """The promotions part of the page, live while a pipeline's file is still being read."""
    context = await _page_context(session, caller, wf_id)
    return page(request, "parts/workflow_promotions.html", context)


@router.post("/workflows/{wf_id}/promote")
async def promote(
    request: Request, wf_id: str, session: SessionDep, caller: CallerDep, engine: EngineDep
) -> Response:
    """Triggers a promotion as `POST /api/v1alpha/promotions` does; a refusal (a parameter,
    a pipeline that has not passed, the deployment target's rules) shows the page again
    with the reason."""
    form = await posted(request)
    pipeline_id = form.get("pipeline_id")
    source = await projects.runnable_child(session, caller, Pipeline, pipeline_id, "pipeline")
    if source.workflow_id != wf_id:
        raise NotFound(f"pipeline {pipeline_id!r} not found in workflow {wf_id!r}")
    attempt = Attempt(
        pipeline_id=source.id,
        name=form.get("name"),
        values=form.prefixed(PARAMETER),
        override=form.get("override") == "true",
        error="",
    )
    try:
        outcome = await promotions.promote(
            session,
            engine,
            source,
            attempt.name,
            caller=caller,
            override=attempt.override,
            given=attempt.values,
        )
    except InvalidInput as exc:
        attempt.error = exc.message
        return await _workflow_page(request, session, caller, wf_id, attempt, 400)
    if outcome.refused:
        # answered normally, so the refusal stays in the target's history (as the API does)
        attempt.error = outcome.refused
        return await _workflow_page(request, session, caller, wf_id, attempt, 403)
    started = outcome.promotion.scheduled_pipeline_id
    return RedirectResponse(f"/ui/workflows/{wf_id}#pipeline-{started}", status_code=303)
