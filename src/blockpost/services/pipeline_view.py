"""What a person sees of a pipeline or a job: its blocks and jobs, and why waiting work waits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Block, Job, Pipeline, Project, Workflow
from blockpost.dispatch import queue
from blockpost.services import jobs, projects, workflows
from blockpost.services.principal import Principal


@dataclass
class PipelineView:
    pipeline: Pipeline
    workflow: Workflow
    project: Project
    blocks: list[tuple[Block, list[Job]]]
    after_jobs: list[Job]
    may_run: bool
    # why the pipeline has not started, while it waits in its queue
    waiting: str | None = None
    # job id -> why it has not started
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.pipeline.state == "done"

    @property
    def job_count(self) -> int:
        return sum(len(members) for _, members in self.blocks) + len(self.after_jobs)


async def pipeline_waiting(session: AsyncSession, pipeline: Pipeline) -> str | None:
    """Why a pipeline has not started: initialising, or another one ahead in its queue (the
    same rule the engine applies when it lets a queuing pipeline run)."""
    if pipeline.state in ("initializing", "pending"):
        return "being initialised from its YAML file"
    if pipeline.state != "queuing":
        return None
    if pipeline.queue_parallel:
        return "entering its queue"
    ahead = await session.scalar(
        select(Pipeline.id)
        .where(
            Pipeline.queue_key == pipeline.queue_key,
            Pipeline.id != pipeline.id,
            or_(
                Pipeline.state.in_(("running", "stopping")),
                and_(
                    Pipeline.state == "queuing",
                    or_(
                        Pipeline.created_at < pipeline.created_at,
                        and_(
                            Pipeline.created_at == pipeline.created_at,
                            Pipeline.id < pipeline.id,
                        ),
                    ),
                ),
            ),
        )
        .limit(1)
    )
    if ahead is None:
        return "entering its queue"
    return f"waiting for pipeline {ahead} ahead in the same queue to finish"


async def job_reasons(
    session: AsyncSession, blocks: list[tuple[Block, list[Job]]], after_jobs: list[Job]
) -> dict[str, str]:
    """Why each job that has not started waits. Queued jobs of one kind wait for the same
    reason: asked once per agent type, not once per job (a pipeline may hold hundreds)."""
    by_kind: dict[tuple[str, bool], str | None] = {}
    names = {block.name: block for block, _ in blocks}
    reasons: dict[str, str] = {}

    async def queued(job: Job) -> None:
        kind = (job.agent_type, job.needs_containers)
        if kind not in by_kind:
            by_kind[kind] = await queue.waiting_reason(session, job)
        if reason := by_kind[kind]:
            reasons[job.id] = reason

    for block, members in blocks:
        unfinished = [
            name for name in block.dependencies if name in names and names[name].state != "done"
        ]
        for job in members:
            if job.state == "queued":
                await queued(job)
            elif job.state == "pending" and unfinished:
                reasons[job.id] = "waiting for block " + ", ".join(unfinished)
            elif job.state == "pending":
                reasons[job.id] = "waiting for its block to start"
    for job in after_jobs:
        if job.state == "queued":
            await queued(job)
        elif job.state == "pending":
            reasons[job.id] = "runs once the pipeline is done"
    return reasons


async def view_pipeline(session: AsyncSession, caller: Principal, ppl_id: str) -> PipelineView:
    """The pipeline as its page shows it; NotFound when the caller may not see it."""
    pipeline, workflow = await workflows.describe_pipeline(session, caller, ppl_id)
    project = await projects.get_project(session, caller, pipeline.project_id)
    blocks = await workflows.blocks_of(session, pipeline.id)
    after_jobs = list(
        (
            await session.scalars(
                select(Job)
                .where(Job.pipeline_id == pipeline.id, Job.block_id.is_(None))
                .order_by(Job.index)
            )
        ).all()
    )
    return PipelineView(
        pipeline=pipeline,
        workflow=workflow,
        project=project,
        blocks=blocks,
        after_jobs=after_jobs,
        may_run=await projects.may_run(session, caller, project),
        waiting=await pipeline_waiting(session, pipeline),
        reasons=await job_reasons(session, blocks, after_jobs),
    )


@dataclass
class JobView:
    job: Job
    block: Block | None
    pipeline: Pipeline | None
    may_run: bool
    waiting: str | None


async def view_job(session: AsyncSession, caller: Principal, job_id: str) -> JobView:
    """A job with its block and pipeline (none for a standalone job); NotFound when the
    caller may not see it."""
    job = await jobs.visible_job(session, caller, job_id)
    block = await session.get(Block, job.block_id) if job.block_id else None
    pipeline = await session.get(Pipeline, job.pipeline_id) if job.pipeline_id else None
    may_run = caller.admin
    if job.project_id is not None:
        project = await projects.get_project(session, caller, job.project_id)
        may_run = await projects.may_run(session, caller, project)
    waiting = await queue.waiting_reason(session, job)
    if waiting is None and job.state == "pending":
        waiting = "waiting for the blocks it depends on" if block else "waiting to be released"
    return JobView(job, block, pipeline, may_run, waiting)
