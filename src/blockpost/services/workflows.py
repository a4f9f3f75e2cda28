"""Reading workflows and pipelines as a user may see them: describe, list, filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Block, Job, Pipeline, Project, Workflow
from blockpost.db.paging import fetch_page
from blockpost.errors import InvalidInput, NotFound
from blockpost.services import projects
from blockpost.services.principal import Principal


async def visible_workflow(session: AsyncSession, caller: Principal, wf_id: str) -> Workflow:
    return await projects.visible_child(session, caller, Workflow, wf_id, "workflow")


async def visible_pipeline(session: AsyncSession, caller: Principal, ppl_id: str) -> Pipeline:
    return await projects.visible_child(session, caller, Pipeline, ppl_id, "pipeline")


async def describe_pipeline(
    session: AsyncSession, caller: Principal, ppl_id: str
) -> tuple[Pipeline, Workflow]:
    """The pipeline with its workflow, in one query (describe is polled by CI scripts)."""
    row = (
        await session.execute(
            select(Pipeline, Workflow)
            .join(Workflow, Workflow.id == Pipeline.workflow_id)
            .join(Project, Project.id == Pipeline.project_id)
            .where(Pipeline.id == ppl_id, projects.visible_to(caller))
        )
    ).first()
    if row is None:
        raise NotFound(f"pipeline {ppl_id!r} not found")
    return row[0], row[1]


async def list_workflows(
    session: AsyncSession,
    caller: Principal,
    project_ref: str,
    branch_name: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Workflow], int]:
    project = await projects.get_project(session, caller, project_ref)
    query = select(Workflow).where(Workflow.project_id == project.id)
    if branch_name:
        query = query.where(Workflow.branch_name == branch_name)
    query = query.order_by(Workflow.created_at.desc(), Workflow.number.desc())
    return await fetch_page(session, query, offset, limit)


@dataclass(frozen=True)
class PipelineFilter:
    project_id: str | None = None
    wf_id: str | None = None
    branch_name: str | None = None
    yml_file_path: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    done_after: datetime | None = None
    done_before: datetime | None = None


async def list_pipelines(
    session: AsyncSession, caller: Principal, where: PipelineFilter, offset: int, limit: int
) -> tuple[list[tuple[Pipeline, Workflow]], int]:
    """Each pipeline with its workflow, newest first."""
    if not where.project_id and not where.wf_id:
        raise InvalidInput("project_id", "is required unless wf_id is given")
    query = select(Pipeline, Workflow).join(Workflow, Workflow.id == Pipeline.workflow_id)
    if where.project_id:
        project = await projects.get_project(session, caller, where.project_id)
        query = query.where(Pipeline.project_id == project.id)
    if where.wf_id:
        workflow = await visible_workflow(session, caller, where.wf_id)
        query = query.where(Pipeline.workflow_id == workflow.id)
    if where.branch_name:
        query = query.where(Workflow.branch_name == where.branch_name)
    if where.yml_file_path:
        query = query.where(Pipeline.yaml_file_path == where.yml_file_path.removeprefix("./"))
    bounds = (
        (Pipeline.created_at, where.created_after, where.created_before),
        (Pipeline.done_at, where.done_after, where.done_before),
    )
    for column, after, before in bounds:
        if after is not None:
            query = query.where(column > after)
        if before is not None:
            query = query.where(column < before)
    query = query.order_by(Pipeline.created_at.desc(), Pipeline.id)
    return await fetch_page(session, query, offset, limit, entities=False)


async def blocks_of(session: AsyncSession, pipeline_id: str) -> list[tuple[Block, list[Job]]]:
    blocks = (
        await session.scalars(
            select(Block).where(Block.pipeline_id == pipeline_id).order_by(Block.index)
        )
    ).all()
    jobs = (
        await session.scalars(
            select(Job)
            .where(Job.pipeline_id == pipeline_id, Job.block_id.is_not(None))
            .order_by(Job.index)
        )
    ).all()
    by_block: dict[str, list[Job]] = {block.id: [] for block in blocks}
    for job in jobs:
        if job.block_id in by_block:
            by_block[job.block_id].append(job)
    return [(block, by_block[block.id]) for block in blocks]
