"""Reading workflows and pipelines as a user may see them: describe, list, filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from blockpost.db.models import Block, Job, Pipeline, Project, Workflow
from blockpost.db.paging import fetch_page
from blockpost.errors import InvalidInput, NotFound
from blockpost.services import projects
from blockpost.services.principal import Principal
from blockpost.timefmt import EPOCH_MAX, from_epoch


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


def unix_time(name: str, value: int | None) -> datetime | None:
    """A `created_after`-style bound: Unix seconds, as Semaphore's lists take them."""
    if value is None:
        return None
    if not 0 <= value <= EPOCH_MAX:
        raise InvalidInput(name, f"must be a Unix timestamp between 0 and {EPOCH_MAX}")
    return from_epoch(value)


# Semaphore's git_ref_types values, by the ref_type a workflow stores
GIT_REF_TYPES = {"branch": "branch", "tag": "tag", "pr": "pull-request"}


def git_ref_types(values: list[str]) -> tuple[str, ...]:
    """`git_ref_types`, given repeated or comma-separated (`branch,tag,pr`), as ref types."""
    found = []
    for value in (part.strip().lower() for item in values for part in item.split(",")):
        if not value:
            continue
        if value not in GIT_REF_TYPES:
            raise InvalidInput("git_ref_types", f"{value!r} is not one of branch, tag, pr")
        found.append(GIT_REF_TYPES[value])
    return tuple(found)


@dataclass(frozen=True)
class WorkflowFilter:
    branch_name: str | None = None
    requester_id: str | None = None
    label: str | None = None  # the branch or tag name, or the pull request's number
    git_ref_types: tuple[str, ...] = ()  # ref types: branch | tag | pull-request
    created_after: datetime | None = None
    created_before: datetime | None = None

    @property
    def on_workflow_columns(self) -> bool:
        """Whether `apply` adds conditions (a pipeline query then needs the workflow)."""
        return bool(self.branch_name or self.requester_id or self.label or self.git_ref_types)

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.branch_name:
            query = query.where(Workflow.branch_name == self.branch_name)
        if self.requester_id:
            query = query.where(Workflow.requester_id == self.requester_id)
        if self.label:
            query = query.where(Workflow.ref_name == self.label)
        if self.git_ref_types:
            query = query.where(Workflow.ref_type.in_(self.git_ref_types))
        return query


async def list_workflows(
    session: AsyncSession,
    caller: Principal,
    project_ref: str,
    where: WorkflowFilter,
    offset: int,
    limit: int,
) -> tuple[list[Workflow], int]:
    project = await projects.get_project(session, caller, project_ref)
    query = where.apply(select(Workflow).where(Workflow.project_id == project.id))
    if where.created_after is not None:
        query = query.where(Workflow.created_at > where.created_after)
    if where.created_before is not None:
        query = query.where(Workflow.created_at < where.created_before)
    query = query.order_by(Workflow.created_at.desc(), Workflow.number.desc())
    return await fetch_page(session, query, offset, limit)


@dataclass(frozen=True)
class PipelineFilter:
    project_id: str | None = None
    wf_id: str | None = None
    yml_file_path: str | None = None
    workflow: WorkflowFilter = WorkflowFilter()
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
    conditions: list[ColumnElement[bool]] = []
    if where.project_id:
        project = await projects.get_project(session, caller, where.project_id)
        conditions.append(Pipeline.project_id == project.id)
    if where.wf_id:
        workflow = await visible_workflow(session, caller, where.wf_id)
        conditions.append(Pipeline.workflow_id == workflow.id)
    if where.yml_file_path:
        conditions.append(Pipeline.yaml_file_path == where.yml_file_path.removeprefix("./"))
    bounds = (
        (Pipeline.created_at, where.created_after, where.created_before),
        (Pipeline.done_at, where.done_after, where.done_before),
    )
    for column, after, before in bounds:
        if after is not None:
            conditions.append(column > after)
        if before is not None:
            conditions.append(column < before)
    joined = select(Pipeline, Workflow).join(Workflow, Workflow.id == Pipeline.workflow_id)
    query = where.workflow.apply(joined.where(*conditions))
    # Counting through the join costs a workflow lookup per pipeline (0.4 s at 100k rows):
    # only workflow filters need it.
    count = select(func.count()).select_from(Pipeline).where(*conditions)
    if where.workflow.on_workflow_columns:
        count = where.workflow.apply(count.join(Workflow, Workflow.id == Pipeline.workflow_id))
    query = query.order_by(Pipeline.created_at.desc(), Pipeline.id)
    return await fetch_page(session, query, offset, limit, entities=False, count=count)


async def blocks_of(session: AsyncSession, pipeline_id: str) -> list[tuple[Block, list[Job]]]:
    blocks = (
        await session.scalars(
            select(Block).where(Block.pipeline_id == pipeline_id).order_by(Block.index)
        )
    ).all()
    # Without each job's spec: no caller shows it, and decoding 300 of them was a third of a
    # large pipeline page's time (raiseload: a caller that starts to need it fails loudly).
    without_spec = defer(Job.spec, raiseload=True)
    jobs = (
        await session.scalars(
            select(Job)
            .options(without_spec)
            .where(Job.pipeline_id == pipeline_id, Job.block_id.is_not(None))
            .order_by(Job.index)
        )
    ).all()
    by_block: dict[str, list[Job]] = {block.id: [] for block in blocks}
    for job in jobs:
        if job.block_id in by_block:
            by_block[job.block_id].append(job)
    # a block a partial rebuild kept as passed shows the jobs that passed it, which run
    # under the same build request in the pipeline that was rebuilt
    kept = {b.build_req_id: b.id for b in blocks if not by_block[b.id] and b.result == "passed"}
    if kept:
        earlier = await session.execute(
            select(Block.build_req_id, Job)
            .options(without_spec)
            .join(Job, Job.block_id == Block.id)
            .where(Block.build_req_id.in_(kept), Block.pipeline_id != pipeline_id)
            .order_by(Job.index)
        )
        for build_req_id, job in earlier.all():
            by_block[kept[build_req_id]].append(job)
    return [(block, by_block[block.id]) for block in blocks]


async def job_context(
    session: AsyncSession, caller: Principal, job_id: str
) -> tuple[Job, Block, Pipeline, Workflow]:
    """A pipeline job the caller may see with its block, pipeline and workflow; a
    standalone job has none of them and is not found here."""
    row = (
        await session.execute(
            select(Job, Block, Pipeline, Workflow)
            .join(Block, Block.id == Job.block_id)
            .join(Pipeline, Pipeline.id == Job.pipeline_id)
            .join(Workflow, Workflow.id == Pipeline.workflow_id)
            .join(Project, Project.id == Pipeline.project_id)
            .where(Job.id == job_id, projects.visible_to(caller))
        )
    ).first()
    if row is None:
        raise NotFound(f"job {job_id!r} not found")
    return row[0], row[1], row[2], row[3]
