"""What the deployment targets page shows for a page of projects, read in a few batched
queries: each project's targets with their rules in words and their latest deployments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Deployment, DeploymentTarget, Pipeline, Project
from blockpost.engine.targets import AUTO
from blockpost.services import projects, workflow_pages
from blockpost.services.deployment_targets import (
    HISTORY_PAGE,
    RulesInWords,
    describe_rules,
    rule_user_ids,
)
from blockpost.services.principal import Principal


@dataclass(frozen=True, slots=True)
class DeploymentShown:
    deployment: Deployment
    who: str
    pipeline: Pipeline | None  # None: gone, or none started (a refusal)


@dataclass(frozen=True, slots=True)
class TargetShown:
    target: DeploymentTarget
    rules: RulesInWords
    history: list[DeploymentShown]  # newest first, as the API's history's first page


@dataclass(frozen=True, slots=True)
class ProjectTargets:
    project: Project
    manageable: bool  # the caller may cordon its targets
    targets: list[TargetShown]


async def _latest_deployments(
    session: AsyncSession, target_ids: list[str]
) -> dict[str, list[Deployment]]:
    """Target id -> its newest HISTORY_PAGE deployments, for all targets in one query."""
    if not target_ids:
        return {}
    place = (
        func.row_number()
        .over(
            partition_by=Deployment.target_id,
            order_by=(Deployment.triggered_at.desc(), Deployment.id.desc()),
        )
        .label("place")
    )
    ranked = (
        select(Deployment.id.label("id"), place)
        .where(Deployment.target_id.in_(target_ids))
        .subquery()
    )
    rows = await session.scalars(
        select(Deployment)
        .join(ranked, ranked.c.id == Deployment.id)
        .where(ranked.c.place <= HISTORY_PAGE)
        .order_by(Deployment.triggered_at.desc(), Deployment.id.desc())
    )
    found: dict[str, list[Deployment]] = defaultdict(list)
    for deployment in rows:
        found[deployment.target_id].append(deployment)
    return found


async def _visible_pipelines(
    session: AsyncSession, caller: Principal, ids: set[str]
) -> dict[str, Pipeline]:
    if not ids:
        return {}
    rows = await session.scalars(
        select(Pipeline)
        .join(Project, Project.id == Pipeline.project_id)
        .where(Pipeline.id.in_(ids), projects.visible_to(caller))
    )
    return {pipeline.id: pipeline for pipeline in rows}


async def targets_of(
    session: AsyncSession, caller: Principal, shown: Sequence[Project]
) -> list[ProjectTargets]:
    """The targets of the projects in `shown` (ones the caller sees, as
    services.projects.list_projects gives them); projects without targets are left out."""
    by_project: dict[str, list[DeploymentTarget]] = defaultdict(list)
    if shown:
        rows = await session.scalars(
            select(DeploymentTarget)
            .where(DeploymentTarget.project_id.in_([project.id for project in shown]))
            .order_by(DeploymentTarget.name)
        )
        for target in rows:
            by_project[target.project_id].append(target)
    targets = [target for found in by_project.values() for target in found]
    history = await _latest_deployments(session, [target.id for target in targets])
    deployments = [deployment for found in history.values() for deployment in found]
    pipelines = await _visible_pipelines(
        session, caller, {d.pipeline_id for d in deployments if d.pipeline_id}
    )
    names = await workflow_pages.user_names(
        session, [*rule_user_ids(targets), *(d.triggered_by for d in deployments)]
    )
    manageable = await projects.runnable_ids(session, caller, shown)

    def deployment_shown(deployment: Deployment) -> DeploymentShown:
        who = deployment.triggered_by
        return DeploymentShown(
            deployment,
            "auto-promotion" if who == AUTO else names.get(who, who),
            pipelines.get(deployment.pipeline_id),
        )

    return [
        ProjectTargets(
            project,
            project.id in manageable,
            [
                TargetShown(
                    target,
                    describe_rules(target, names),
                    [deployment_shown(d) for d in history.get(target.id, [])],
                )
                for target in by_project[project.id]
            ],
        )
        for project in shown
        if by_project.get(project.id)
    ]
