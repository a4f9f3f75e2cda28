"""Deployment targets of the projects the caller sees: rules, state, history; cordon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.db.models import Deployment, DeploymentTarget, Pipeline, Project
from blockpost.engine.targets import AUTO
from blockpost.errors import NotFound
from blockpost.services import deployment_targets as targets
from blockpost.services import projects, workflows
from blockpost.services.principal import Principal
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE = "/ui/deployment_targets"
PAGE_SIZE = 50
OBJECT_KINDS = (("BRANCH", "Branches"), ("TAG", "Tags"), ("PR", "Pull requests"))


@dataclass(frozen=True)
class DeploymentShown:
    deployment: Deployment
    who: str
    pipeline: Pipeline | None


@dataclass(frozen=True)
class TargetShown:
    target: DeploymentTarget
    subjects: list[str]
    objects: list[tuple[str, str]]
    history: list[DeploymentShown]


class Names:
    """Usernames for the user ids (uuids) rules and history hold, each looked up once."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._known: dict[str, str] = {}

    async def of(self, ref: str) -> str:
        if ref not in self._known:
            user = await projects.find_user(self._session, ref) if ref else None
            self._known[ref] = user.username if user else ref
        return self._known[ref]


async def _subjects(rules: list[dict[str, Any]], names: Names) -> list[str]:
    said = []
    for rule in rules:
        kind = rule.get("type")
        if kind == "ANY":
            said.append("anyone who may run the project")
        elif kind == "AUTO":
            said.append("auto-promotions")
        elif kind == "ROLE":
            said.append(f"role {rule.get('subject_id')}")
        else:
            who = rule.get("git_login") or await names.of(str(rule.get("subject_id", "")))
            said.append(f"user {who}")
    return said


def _objects(rules: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Per kind of reference, which ones may deploy (a kind with no rule: none)."""
    said = []
    for kind, label in OBJECT_KINDS:
        matching = [rule for rule in rules if rule.get("type") == kind]
        parts = []
        for rule in matching:
            mode = rule.get("match_mode", "ALL")
            if mode == "ALL":
                parts.append("all")
            else:
                parts.append(f"{rule.get('pattern')} ({'regex' if mode == 'REGEX' else 'exact'})")
        said.append((label, ", ".join(parts) if parts else "none"))
    return said


async def _pipeline(session: AsyncSession, caller: Principal, pipeline_id: str) -> Pipeline | None:
    if not pipeline_id:
        return None
    try:
        return await workflows.visible_pipeline(session, caller, pipeline_id)
    except NotFound:
        return None


async def _shown(
    session: AsyncSession, caller: Principal, target: DeploymentTarget, names: Names
) -> TargetShown:
    history = (await targets.history(session, target)).deployments
    shown = [
        DeploymentShown(
            deployment,
            "auto-promotion"
            if deployment.triggered_by == AUTO
            else await names.of(deployment.triggered_by),
            await _pipeline(session, caller, deployment.pipeline_id),
        )
        for deployment in history
    ]
    return TargetShown(
        target,
        await _subjects(target.subject_rules, names),
        _objects(target.object_rules),
        shown,
    )


@router.get("/deployment_targets")
async def target_list(
    request: Request, session: SessionDep, caller: CallerDep, page_number: int = 1
) -> Response:
    page_number = max(page_number, 1)
    offset = (page_number - 1) * PAGE_SIZE
    visible, total = await projects.list_projects(session, caller, offset, PAGE_SIZE)
    names = Names(session)
    per_project: list[tuple[Project, bool, list[TargetShown]]] = []
    for project in visible:
        rows = await targets.list_targets(session, caller, project.id)
        if rows:
            manageable = await projects.may_run(session, caller, project)
            shown = [await _shown(session, caller, row, names) for row in rows]
            per_project.append((project, manageable, shown))
    context = {
        "per_project": per_project,
        "page_number": page_number,
        "more": offset + len(visible) < total,
    }
    return page(request, "deployment_targets.html", context)


@router.post("/deployment_targets/{target_id}/cordon")
async def cordon(
    target_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    """`cordoned=true` refuses promotions through the target until `cordoned=false`."""
    form = await posted(request)
    target = await targets.manageable_target(session, caller, target_id)
    await targets.set_cordoned(session, caller, target, form.get("cordoned") == "true")
    return RedirectResponse(f"{PAGE}#target-{target.id}", status_code=303)
