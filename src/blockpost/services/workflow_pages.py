"""What the web UI's project and workflow pages show beyond the API's answers: workflows with
their initial pipeline's result, a workflow's pipelines with their promotions, user names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Pipeline, Project, Promotion, User, Workflow
from blockpost.db.paging import fetch_page
from blockpost.errors import InvalidInput
from blockpost.services.workflows import WorkflowFilter

# The initial pipeline's result a project page filters on; "running" is any pipeline not done.
RESULTS = ("passed", "failed", "stopped", "canceled", "running")
# A workflow's pipelines: rebuilds and promotions; more than this is no page people read.
MOST_PIPELINES = 200


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
    if result == "running":
        query = query.where(Pipeline.state != "done")
    elif result:
        if result not in RESULTS:
            raise InvalidInput("result", f"must be one of {', '.join(RESULTS)}")
        query = query.where(Pipeline.state == "done", Pipeline.result == result)
    query = query.order_by(Workflow.created_at.desc(), Workflow.number.desc())
    rows, total = await fetch_page(session, query, offset, limit, entities=False)
    return [Row(workflow, pipeline) for workflow, pipeline in rows], total


async def workflow_pipelines(session: AsyncSession, workflow: Workflow) -> list[Pipeline]:
    """Oldest first, so a promoted pipeline follows the one it came from; `workflow` is one
    the caller may see (services.workflows.visible_workflow)."""
    rows = await session.scalars(
        select(Pipeline)
        .where(Pipeline.workflow_id == workflow.id)
        .order_by(Pipeline.created_at, Pipeline.id)
        .limit(MOST_PIPELINES)
    )
    return list(rows.all())


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
