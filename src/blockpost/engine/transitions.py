"""Every transition of pipelines and blocks, decided in one place from what the database says.

`advance` moves one pipeline as far as it can go now; it is safe to call any number of
times (after a restart too): each step looks at stored state, never at memory.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from blockpost import events_log
from blockpost.commit_status import outbox as statuses
from blockpost.db.models import Block, Job, Pipeline
from blockpost.dispatch import queue
from blockpost.engine.context import EngineContext
from blockpost.engine.promotions import auto_promote
from blockpost.notify import outbox
from blockpost.timefmt import epoch_str, utcnow

ACTIVE = ("pending", "queuing", "running", "stopping")
_STOP_WHY = {
    "user": "the pipeline was terminated by {by}",
    "strategy": "auto-cancel: a newer pipeline entered the queue",
    "fast_failing": "fail-fast: another job failed",
    "timeout": "the pipeline's execution time limit was exceeded",
}


def _why(pipeline: Pipeline, reason: str) -> str:
    return _STOP_WHY.get(reason, reason).format(by=pipeline.terminated_by or "a user")


async def finish_pipeline(
    session: AsyncSession,
    ctx: EngineContext,
    pipeline: Pipeline,
    result: str,
    reason: str,
    error: str = "",
) -> None:
    """Marks the pipeline done, starts the promotions whose auto_promote holds, and its
    after_pipeline jobs, if it has any."""
    now = utcnow()
    pipeline.state = "done"
    pipeline.result = result
    pipeline.result_reason = reason
    pipeline.done_at = now
    if error:
        pipeline.error_description = error
    events_log.emit_after_commit(
        session,
        "pipeline.done",
        pipeline=pipeline.id,
        workflow=pipeline.workflow_id,
        file=pipeline.yaml_file_path,
        result=result,
        reason=reason,
        seconds=round((now - pipeline.created_at).total_seconds(), 1),
    )
    # Notifications: the outbox rows are written in this transaction, so a pipeline's end
    # and its deliveries are stored together; notify/sender.py sends them.
    await outbox.enqueue(session, pipeline)
    await statuses.pipeline_done(session, pipeline)
    await auto_promote(session, ctx, pipeline)
    after = (
        await session.scalars(
            select(Job).where(
                Job.pipeline_id == pipeline.id, Job.block_id.is_(None), Job.state == "pending"
            )
        )
    ).all()
    if not after:
        return
    started = pipeline.running_at or now
    durations = {
        "INIT": (pipeline.pending_at or now) - pipeline.created_at,
        "QUEUEING": started - (pipeline.queuing_at or started),
        "RUNNING": now - started,
        "TOTAL": now - pipeline.created_at,
    }
    extra = [
        ("SEMAPHORE_PIPELINE_RESULT", result),
        ("SEMAPHORE_PIPELINE_RESULT_REASON", reason),
        ("SEMAPHORE_PIPELINE_CREATED_AT", epoch_str(pipeline.created_at)),
        ("SEMAPHORE_PIPELINE_STARTED_AT", epoch_str(pipeline.running_at)),
        ("SEMAPHORE_PIPELINE_DONE_AT", epoch_str(now)),
        *(
            (f"SEMAPHORE_PIPELINE_{name}_DURATION", str(int(delta.total_seconds())))
            for name, delta in durations.items()
        ),
    ]
    for job in after:
        env = [*job.spec["env_vars"], *({"name": n, "value": v} for n, v in extra)]
        job.spec = {**job.spec, "env_vars": env}
    await queue.release(session, ctx.wakeups, after)


async def advance(session: AsyncSession, ctx: EngineContext, pipeline: Pipeline) -> bool:
    """One look at a pipeline past initialisation; True when anything changed."""
    before = pipeline.state
    if pipeline.state == "pending":
        await _enter_queue(session, ctx, pipeline)
    if pipeline.state == "queuing":
        await _leave_queue(session, ctx, pipeline)
    changed = False
    if pipeline.state in ("running", "stopping"):
        changed = await _drive(session, ctx, pipeline)
    return changed or pipeline.state != before


def _same_queue(pipeline: Pipeline) -> list[object]:
    return [Pipeline.queue_key == pipeline.queue_key, Pipeline.id != pipeline.id]


async def _enter_queue(session: AsyncSession, ctx: EngineContext, pipeline: Pipeline) -> None:
    if pipeline.terminate_request:
        await finish_pipeline(session, ctx, pipeline, "canceled", pipeline.terminate_reason)
        return
    if pipeline.auto_cancel:
        states = ("pending", "queuing")
        if pipeline.auto_cancel == "running":
            states = ACTIVE
        older = await session.scalars(
            select(Pipeline).where(
                *_same_queue(pipeline),
                Pipeline.state.in_(states),
                Pipeline.terminate_request == "",
                Pipeline.created_at <= pipeline.created_at,
            )
        )
        for other in older.all():
            other.terminate_request = "stop"
            other.terminate_reason = "strategy"
            await queue.wake_engine(session, ctx.wakeups, other.id)
    pipeline.state = "queuing"
    pipeline.queuing_at = utcnow()


async def ahead_in_queue(session: AsyncSession, pipeline: Pipeline) -> str | None:
    """A pipeline of the same one-at-a-time queue that runs, or queued earlier: while there
    is one, this one stays queuing. None for a parallel queue."""
    if pipeline.queue_parallel:
        return None
    return await session.scalar(
        select(Pipeline.id)
        .where(
            *_same_queue(pipeline),
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


async def _leave_queue(session: AsyncSession, ctx: EngineContext, pipeline: Pipeline) -> None:
    if pipeline.terminate_request:
        await finish_pipeline(session, ctx, pipeline, "canceled", pipeline.terminate_reason)
        return
    if await ahead_in_queue(session, pipeline) is not None:
        return
    pipeline.state = "running"
    pipeline.running_at = utcnow()
    await statuses.pipeline_started(session, pipeline)  # commit statuses, in this transaction


async def _jobs(session: AsyncSession, block_ids: Sequence[str]) -> Sequence[Job]:
    """The blocks' jobs without their specs: decoding every job's JSON was most of a pass's
    time, and no transition of a block's jobs reads it."""
    return (
        await session.scalars(
            select(Job).where(Job.block_id.in_(block_ids)).options(defer(Job.spec))
        )
    ).all()


class _Drive:
    """One pass over a running pipeline's blocks. Jobs are loaded by block, when a step
    needs them: a pass over a long pipeline reads the jobs of its running blocks, not all."""

    def __init__(
        self,
        session: AsyncSession,
        ctx: EngineContext,
        pipeline: Pipeline,
        blocks: Sequence[Block],
        loaded: Sequence[str],
        jobs: Sequence[Job],
    ) -> None:
        self.session = session
        self.ctx = ctx
        self.pipeline = pipeline
        self.blocks = blocks
        self.by_name = {block.name: block for block in blocks}
        self.jobs: dict[str, list[Job]] = {block_id: [] for block_id in loaded}
        for job in jobs:
            if job.block_id is not None:
                self.jobs[job.block_id].append(job)
        # Blocks this pass queued every job of, none yet taken: nothing to look at in them
        # unless the pipeline is asked to stop.
        self.started: set[str] = set()

    async def jobs_of(self, block: Block) -> list[Job]:
        if block.id not in self.jobs:
            self.jobs[block.id] = list(await _jobs(self.session, [block.id]))
        return self.jobs[block.id]

    async def _close(self, block: Block, result: str, reason: str) -> None:
        block.state = "done"
        block.result = result
        block.result_reason = reason
        block.done_at = utcnow()
        await statuses.block_done(self.session, self.pipeline, block)

    async def _stop_jobs(self, block: Block, reason: str, *, only_unstarted: bool = False) -> None:
        for job in await self.jobs_of(block):
            if not (only_unstarted and job.state == "running"):
                await queue.request_stop(self.session, self.ctx.wakeups, job, reason)

    async def _never_runs(self, block: Block, result: str, reason: str) -> None:
        """Closes a waiting block; Semaphore creates no jobs for blocks that never run."""
        await self._close(block, result, reason)
        await queue.discard_pending(self.session, block.id)

    async def waiting(self, block: Block) -> bool:
        pipeline = self.pipeline
        if pipeline.terminate_request:
            await self._never_runs(block, "canceled", pipeline.terminate_reason)
            return True
        deps = [self.by_name[name] for name in block.dependencies if name in self.by_name]
        if any(dep.state != "done" for dep in deps):
            return False
        if any(dep.result != "passed" for dep in deps):
            await self._never_runs(block, "canceled", "test")
            return True
        if block.skip:
            await self._never_runs(block, "passed", "skipped")
            return True
        block.state = "running"
        block.started_at = utcnow()
        if await queue.release_block(self.session, self.ctx.wakeups, block.id):
            self.started.add(block.id)
        return True

    async def running(self, block: Block) -> bool:
        pipeline = self.pipeline
        if block.id in self.started and not pipeline.terminate_request:
            return False  # every job queued just now: none finished, none failed
        jobs = await self.jobs_of(block)
        changed = False
        if pipeline.terminate_request == "stop" and block.state == "running":
            block.state = "stopping"
            block.stop_reason = pipeline.terminate_reason
            await self._stop_jobs(block, _why(pipeline, pipeline.terminate_reason))
            changed = True
        if block.fail_fast and not block.stop_reason and any(j.result == "failed" for j in jobs):
            block.stop_reason = "fast_failing"
            only_unstarted = block.fail_fast == "cancel"
            await self._stop_jobs(
                block, _why(pipeline, "fast_failing"), only_unstarted=only_unstarted
            )
            changed = True
        if all(job.state == "finished" for job in jobs):
            results = {job.result for job in jobs}
            if "failed" in results:
                await self._close(block, "failed", "test")
            elif "stopped" in results:
                timed_out = any(job.result_reason == queue.TIME_LIMIT_REASON for job in jobs)
                reason = block.stop_reason or ("timeout" if timed_out else "user")
                await self._close(block, "stopped", reason)
            else:
                await self._close(block, "passed", "test")
            changed = True
        return changed

    def fail_fast(self) -> bool:
        """The first failed job triggers the pipeline's fail_fast, as in Semaphore."""
        pipeline = self.pipeline
        if pipeline.terminate_request or not pipeline.fail_fast:
            return False
        if not any(job.result == "failed" for jobs in self.jobs.values() for job in jobs):
            return False
        pipeline.terminate_request = pipeline.fail_fast
        pipeline.terminate_reason = "fast_failing"
        return True

    def outcome(self) -> tuple[str, str]:
        pipeline = self.pipeline
        if pipeline.terminate_request == "cancel":
            return "canceled", pipeline.terminate_reason
        if pipeline.terminate_request:
            return "stopped", pipeline.terminate_reason
        for result in ("failed", "stopped", "canceled"):
            block = next((b for b in self.blocks if b.result == result), None)
            if block is not None:
                return result, block.result_reason or "test"
        return "passed", "test"


async def _drive(session: AsyncSession, ctx: EngineContext, pipeline: Pipeline) -> bool:
    now = utcnow()
    blocks = (
        await session.scalars(
            select(Block).where(Block.pipeline_id == pipeline.id).order_by(Block.index)
        )
    ).all()
    # Without the spec: decoding every job's JSON on each pass was most of a pass's time,
    # and nothing here reads it (after_pipeline jobs, which get env added, are not loaded).
    active = [block.id for block in blocks if block.state in ("running", "stopping")]
    jobs = await _jobs(session, active) if active else []
    drive = _Drive(session, ctx, pipeline, blocks, active, jobs)
    changed = False
    limit = pipeline.execution_time_limit
    if (
        limit
        and not pipeline.terminate_request
        and pipeline.running_at is not None
        and (now - pipeline.running_at).total_seconds() >= limit
    ):
        pipeline.terminate_request = "stop"
        pipeline.terminate_reason = "timeout"
    # bounded: every round that changes something moves a block or the pipeline forward
    for _ in range(2 * len(blocks) + 3):
        if pipeline.terminate_request == "stop" and pipeline.state == "running":
            pipeline.state = "stopping"
            pipeline.stopping_at = now
            changed = True
        progressed = False
        for block in blocks:
            if block.state == "waiting":
                progressed |= await drive.waiting(block)
            if block.state in ("running", "stopping"):
                progressed |= await drive.running(block)
        progressed |= drive.fail_fast()
        changed |= progressed
        if not progressed:
            break
    if all(block.state == "done" for block in blocks):
        result, reason = drive.outcome()
        await finish_pipeline(session, ctx, pipeline, result, reason)
        changed = True
    return changed
