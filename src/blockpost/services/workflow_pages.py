"""What the web UI's project and workflow pages show beyond the API's answers: workflows with
their initial pipeline's result, a workflow's pipelines with their promotions and the rules of
their deployment targets, user names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import DeploymentTarget, Pipeline, Project, Promotion, User, Workflow
from blockpost.db.paging import fetch_page
from blockpost.engine.states import PipelineState, Result
from blockpost.errors import InvalidInput
from blockpost.services import deployment_targets, projects, workflows
from blockpost.services.deployment_targets import RulesInWords
from blockpost.services.principal import Principal
from blockpost.services.workflows import WorkflowFilter

# The initial pipeline's result a project page filters on; "running" is any pipeline not done.
RUNNING = "running"
RESULTS = (*Result, RUNNING)
# A workflow's pipelines: rebuilds and promotions; more than this is no page people read.
MOST_PIPELINES = 200


@dataclass(frozen=True, slots=True)
class TargetRules:
    target: DeploymentTarget
    words: RulesInWords


@dataclass(frozen=True, slots=True)
class Row:
    workflow: Workflow
    pipeline: Pipeline  # the initial one


async def project_workflows(
    session: AsyncSession,
    project: Project,
    branch: str | None,
    result: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Row], int]:
    """The project's workflows newest first, each with its initial pipeline; `project` is one
    the caller may see (services.projects.get_project)."""
    query = (
        select(Workflow, Pipeline)
        .join(Pipeline, Pipeline.id == Workflow.initial_ppl_id)
        .where(Workflow.project_id == project.id)
    )
    query = WorkflowFilter(branch_name=branch or None).apply(query)
    if result == RUNNING:
        query = query.where(Pipeline.state != PipelineState.DONE)
    elif result:
        if result not in RESULTS:
            raise InvalidInput("result", f"must be one of {', '.join(RESULTS)}")
        query = query.where(Pipeline.state == PipelineState.DONE, Pipeline.result == result)
    query = query.order_by(Workflow.created_at.desc(), Workflow.number.desc())
    rows, total = await fetch_page(session, query, offset, limit, entities=False)
    return [Row(workflow, pipeline) for workflow, pipeline in rows], total


@dataclass
class WorkflowPipelines:
    """A workflow's pipelines oldest first, so a promoted pipeline follows the one it came
    from; at most MOST_PIPELINES of them (`more` says whether there are others)."""

    workflow: Workflow
    pipelines: list[Pipeline]
    more: bool

    @property
    def running(self) -> bool:
        return any(pipeline.state != PipelineState.DONE for pipeline in self.pipelines)

    @property
    def initializing(self) -> bool:
        return any(pipeline.state == PipelineState.INITIALIZING for pipeline in self.pipelines)

    @property
    def passed(self) -> set[str]:
        """The ids of the pipelines that are done and passed."""
        return {
            pipeline.id
            for pipeline in self.pipelines
            if pipeline.state == PipelineState.DONE and pipeline.result == Result.PASSED
        }


@dataclass
class WorkflowPage(WorkflowPipelines):
    project: Project
    may_run: bool
    # pipeline id -> the promotions triggered from it, newest first
    history: dict[str, list[Promotion]]
    # user uuid -> username, for the promotions' and the targets' rules' users
    names: dict[str, str]
    # deployment target name -> its rules in words
    rules: dict[str, TargetRules]


async def workflow_pipelines(
    session: AsyncSession, caller: Principal, wf_id: str
) -> WorkflowPipelines:
    """NotFound when the caller may not see the workflow."""
    workflow = await workflows.visible_workflow(session, caller, wf_id)
    rows = await session.scalars(
        select(Pipeline)
        .where(Pipeline.workflow_id == workflow.id)
        .order_by(Pipeline.created_at, Pipeline.id)
        .limit(MOST_PIPELINES + 1)
    )
    pipelines = list(rows.all())
    return WorkflowPipelines(
        workflow, pipelines[:MOST_PIPELINES], more=len(pipelines) > MOST_PIPELINES
    )


async def workflow_page(session: AsyncSession, caller: Principal, wf_id: str) -> WorkflowPage:
    """The workflow's page: its pipelines, their promotions' history and the rules of the
    deployment targets they promote to. NotFound when the caller may not see it."""
    listed = await workflow_pipelines(session, caller, wf_id)
    project = await projects.get_project(session, caller, listed.workflow.project_id)
    history = await promotions_of(session, listed.pipelines)
    targets = await deployment_targets.list_targets(session, caller, project.id)
    names = await user_names(
        session,
        [
            *(promotion.triggered_by for found in history.values() for promotion in found),
            *deployment_targets.rule_user_ids(targets),
        ],
    )
    return WorkflowPage(
        listed.workflow,
        listed.pipelines,
        listed.more,
        project=project,
        may_run=await projects.may_run(session, caller, project),
        history=history,
        names=names,
        rules={
            target.name: TargetRules(target, deployment_targets.describe_rules(target, names))
            for target in targets
        },
    )


async def promotions_of(
    session: AsyncSession, pipelines: Iterable[Pipeline]
) -> dict[str, list[Promotion]]:
    """Pipeline id -> the promotions triggered from it, newest first."""
    found: dict[str, list[Promotion]] = {pipeline.id: [] for pipeline in pipelines}
    if not found:
        return found
    rows = await session.scalars(
        select(Promotion)
        .where(Promotion.pipeline_id.in_(found))
        .order_by(Promotion.triggered_at.desc(), Promotion.id)
    )
    for promotion in rows:
        found[promotion.pipeline_id].append(promotion)
    return found


async def user_names(session: AsyncSession, uuids: Iterable[str]) -> dict[str, str]:
    """User uuid -> username, for the uuids promotions and deployment rules store."""
    wanted = {value for value in uuids if value}
    if not wanted:
        return {}
    rows = await session.execute(select(User.uuid, User.username).where(User.uuid.in_(wanted)))
    return dict(rows.all())
