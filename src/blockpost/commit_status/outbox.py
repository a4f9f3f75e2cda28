"""The commit statuses a pipeline's start, a block's end and the pipeline's end add to the
notification outbox, in the transaction that makes the change (notify/sender.py sends them).

As Semaphore's notifier: a project reports the pipelines whose file its
`status.pipeline_files` names, one status for the pipeline (level `pipeline`) and one for
each block (level `block`), under the context `ci/semaphoreci/{push|tag|pr}: NAME`.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.commit_status.forges import CommitState, forge_of
from blockpost.db.models import Block, NotificationDelivery, Pipeline, Project, Workflow
from blockpost.pipeline_yaml.build import DEFAULT_PIPELINE_NAME
from blockpost.timefmt import utcnow

KIND = "commit_status"
LEVELS = ("pipeline", "block")
# With the sender's doubling backoff (capped at 5 minutes): retries for about 13 minutes.
MAX_ATTEMPTS = 10
CONTEXT_PREFIX = "ci/semaphoreci"
_SUFFIXES = {"tag": "tag", "pull-request": "pr"}  # branches: push
_CONTEXT_MAX = 255


def context(workflow: Workflow, name: str) -> str:
    # GitHub refuses characters past U+FFFF in a status; Semaphore drops them.
    clean = "".join(ch for ch in name if ord(ch) <= 0xFFFF)
    suffix = _SUFFIXES.get(workflow.ref_type, "push")
    return f"{CONTEXT_PREFIX}/{suffix}: {clean}"[:_CONTEXT_MAX]


def state_of(state: str, result: str | None) -> CommitState:
    """A pipeline's or block's status: pending until done, then its verdict (stopped and
    canceled have none: error)."""
    if state != "done":
        return CommitState.PENDING
    if result == "passed":
        return CommitState.SUCCESS
    if result in ("stopped", "canceled"):
        return CommitState.ERROR
    return CommitState.FAILURE


async def _levels(session: AsyncSession, pipeline: Pipeline) -> set[str]:
    """The levels the pipeline's project reports it at; none without a token or a forge."""
    project = await session.get(Project, pipeline.project_id)
    if project is None or not project.status_token:
        return set()
    if forge_of(project.integration_type, project.repository_url) is None:
        return set()
    files = project.status_pipeline_files or []
    return {f["level"] for f in files if f["path"] == pipeline.yaml_file_path}


async def _workflow(session: AsyncSession, pipeline: Pipeline) -> Workflow:
    workflow = await session.get(Workflow, pipeline.workflow_id)
    assert workflow is not None, "pipelines.workflow_id is a foreign key"
    return workflow


async def _add(session: AsyncSession, pipeline: Pipeline, name: str, state: CommitState) -> None:
    # A status not yet sent is replaced by a newer one of its context: the forge shows only
    # the latest, and a pending retried after a success would hide the success.
    await session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.kind == KIND,
            NotificationDelivery.pipeline_id == pipeline.id,
            NotificationDelivery.context == name,
            NotificationDelivery.state == "pending",
        )
        .values(state="superseded", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.add(
        NotificationDelivery(
            kind=KIND,
            project_id=pipeline.project_id,
            pipeline_id=pipeline.id,
            context=name,
            status=state.value,
            endpoint="",
            max_attempts=MAX_ATTEMPTS,
        )
    )


async def pipeline_started(session: AsyncSession, pipeline: Pipeline) -> None:
    """Pending for the pipeline, and for each of its blocks (those a partial rebuild kept
    as passed: success)."""
    levels = await _levels(session, pipeline)
    if not levels:
        return
    workflow = await _workflow(session, pipeline)
    if "pipeline" in levels:
        await _add(session, pipeline, context(workflow, pipeline.name), CommitState.PENDING)
    if "block" in levels:
        blocks = await session.scalars(
            select(Block).where(Block.pipeline_id == pipeline.id).order_by(Block.index)
        )
        for block in blocks.all():
            state = state_of(block.state, block.result)
            await _add(session, pipeline, context(workflow, block.name), state)


async def block_done(session: AsyncSession, pipeline: Pipeline, block: Block) -> None:
    if "block" in await _levels(session, pipeline):
        name = context(await _workflow(session, pipeline), block.name)
        await _add(session, pipeline, name, state_of(block.state, block.result))


async def pipeline_done(session: AsyncSession, pipeline: Pipeline) -> None:
    if "pipeline" in await _levels(session, pipeline):
        # a file that could not be read gave its pipeline no name
        named = pipeline.name or DEFAULT_PIPELINE_NAME
        name = context(await _workflow(session, pipeline), named)
        await _add(session, pipeline, name, state_of(pipeline.state, pipeline.result))
