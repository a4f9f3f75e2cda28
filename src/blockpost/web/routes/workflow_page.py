"""A workflow's page: its pipelines (live while any runs) and their promotion forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.db.models import DeploymentTarget, Pipeline, Workflow
from blockpost.engine import promotions
from blockpost.errors import InvalidInput, NotFound
from blockpost.services import deployment_targets, projects, workflow_pages, workflows
from blockpost.services.principal import Principal
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PARAMETER = "param."
# How often the pipeline list refreshes while a pipeline runs (milliseconds)
LIVE_EVERY = 1500
ROLES = {"admin": "administrators", "member": "project members", "contributor": "project members"}
REF_KINDS = {"BRANCH": ("any branch", "branch", "branches"), "TAG": ("any tag", "tag", "tags")}


@dataclass
class Attempt:
    """A promotion form as it was posted, to show again with why it was refused."""

    pipeline_id: str
    name: str
    values: dict[str, str]
    override: bool
    error: str


@dataclass
class Rules:
    """A deployment target's rules in words."""

    target: DeploymentTarget
    who: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


def _rules(target: DeploymentTarget, names: dict[str, str]) -> Rules:
    rules = Rules(target)
    for rule in target.subject_rules:
        kind = rule["type"]
        if kind == "ANY":
            rules.who.append("anyone who may run jobs in the project")
        elif kind == "AUTO":
            rules.who.append("auto-promotions")
        elif kind == "ROLE":
            role = str(rule.get("subject_id", "")).lower()
            rules.who.append(ROLES.get(role, f"role {role}"))
        else:
            subject = rule.get("subject_id", "")
            rules.who.append(f"user {names.get(subject) or rule.get('git_login') or subject}")
    for rule in target.object_rules:
        kind, mode, pattern = rule["type"], rule.get("match_mode", "ALL"), rule.get("pattern", "")
        if kind == "PR":
            rules.refs.append("pull requests")
        elif mode == "ALL":
            rules.refs.append(REF_KINDS[kind][0])
        elif mode == "EXACT":
            rules.refs.append(f"{REF_KINDS[kind][1]} {pattern}")
        else:
            rules.refs.append(f"{REF_KINDS[kind][2]} matching /{pattern}/")
    return rules


def _offered(attempt: Attempt | None, pipelines: list[Pipeline]) -> bool:
    """Whether the page has the form the attempt came from (to show its error beside it)."""
    return attempt is not None and any(
        pipeline.id == attempt.pipeline_id
        and any(d["name"] == attempt.name for d in pipeline.promotions)
        for pipeline in pipelines
    )


def _running(pipelines: list[Pipeline]) -> bool:
    return any(pipeline.state != "done" for pipeline in pipelines)


async def _pipelines(
    session: AsyncSession, caller: Principal, wf_id: str
) -> tuple[Workflow, list[Pipeline]]:
    workflow = await workflows.visible_workflow(session, caller, wf_id)
    return workflow, await workflow_pages.workflow_pipelines(session, workflow)


def _list_context(workflow: Workflow, pipelines: list[Pipeline]) -> dict[str, Any]:
    return {
        "workflow": workflow,
        "pipelines": pipelines,
        "numbers": {pipeline.id: index + 1 for index, pipeline in enumerate(pipelines)},
        "live": _running(pipelines),
        "live_every": LIVE_EVERY,
    }


async def _page_context(
    session: AsyncSession, caller: Principal, wf_id: str, attempt: Attempt | None = None
) -> dict[str, Any]:
    workflow, pipelines = await _pipelines(session, caller, wf_id)
    project = await projects.get_project(session, caller, workflow.project_id)
    history = await workflow_pages.promotions_of(session, pipelines)
    targets = await deployment_targets.list_targets(session, caller, project.id)
    uuids = [p.triggered_by for items in history.values() for p in items]
    uuids += [rule.get("subject_id", "") for t in targets for rule in t.subject_rules]
    names = await workflow_pages.user_names(session, uuids)
    return {
        **_list_context(workflow, pipelines),
        "project": project,
        "history": history,
        "names": names,
        "rules": {target.name: _rules(target, names) for target in targets},
        "may_run": await projects.may_run(session, caller, project),
        # a pipeline's promotions are known once the engine has read its file; until then
        # the promotions refresh (not later: that would reset a form being filled in)
        "initializing": any(pipeline.state == "initializing" for pipeline in pipelines),
        "attempt": attempt,
        "stray_error": "" if attempt is None or _offered(attempt, pipelines) else attempt.error,
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
    workflow, pipelines = await _pipelines(session, caller, wf_id)
    return page(request, "parts/workflow_pipelines.html", _list_context(workflow, pipelines))


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
