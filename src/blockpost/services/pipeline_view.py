"""What a person sees of a pipeline or a job: its blocks and jobs, and why waiting work waits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from blockpost.db.models import Block, Job, Pipeline, Project, Workflow
from blockpost.dispatch import queue
from blockpost.engine import transitions
from blockpost.engine.states import BlockState, JobState, PipelineState, Result
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
    # why the pipeline has not started ("" once it has), and the one ahead in its queue
    waiting: str = ""
    ahead: str | None = None
    # job id -> why it has not started
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.pipeline.state == PipelineState.DONE

    @property
    def passed(self) -> bool:
        return self.done and self.pipeline.result == Result.PASSED


async def pipeline_waiting(session: AsyncSession, pipeline: Pipeline) -> tuple[str, str | None]:
    """Why a pipeline has not started ("" once it has), and the pipeline ahead of it in its
    queue when that is the reason."""
    if pipeline.state in (PipelineState.INITIALIZING, PipelineState.PENDING):
        return "being initialised from its YAML file", None
    if pipeline.state != PipelineState.QUEUING:
        return "", None
    ahead = await transitions.ahead_in_queue(session, pipeline)
    if ahead is None:
        return "entering its queue", None
    return "waiting for the pipeline ahead of it in the same queue to finish", ahead


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
            name
            for name in block.dependencies
            if name in names and names[name].state != BlockState.DONE
        ]
        for job in members:
            if job.state == JobState.QUEUED:
                await queued(job)
            elif job.state == JobState.PENDING and unfinished:
                reasons[job.id] = "waiting for block " + ", ".join(unfinished)
            elif job.state == JobState.PENDING:
                reasons[job.id] = "waiting for its block to start"
    for job in after_jobs:
        if job.state == JobState.QUEUED:
            await queued(job)
        elif job.state == JobState.PENDING:
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
                .options(defer(Job.spec, raiseload=True))
                .where(Job.pipeline_id == pipeline.id, Job.block_id.is_(None))
                .order_by(Job.index)
            )
        ).all()
    )
    waiting, ahead = await pipeline_waiting(session, pipeline)
    return PipelineView(
        pipeline=pipeline,
        workflow=workflow,
        project=project,
        blocks=blocks,
        after_jobs=after_jobs,
        may_run=await projects.may_run(session, caller, project),
        waiting=waiting,
        ahead=ahead,
        reasons=await job_reasons(session, blocks, after_jobs),
    )


@dataclass
class JobView:
    job: Job
    block: Block | None
    pipeline: Pipeline | None
    may_run: bool
    waiting: str | None

    @property
    def job_finished(self) -> bool:
        return self.job.state == JobState.FINISHED


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
    if waiting is None and job.state == JobState.PENDING:
        waiting = "waiting for the blocks it depends on" if block else "waiting to be released"
    return JobView(job, block, pipeline, may_run, waiting)
