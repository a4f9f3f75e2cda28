"""Partial rebuild: a new pipeline that reruns what failed or stopped in a done one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Block, DeploymentTarget, Pipeline, Workflow
from blockpost.dispatch.queue import wake_engine
from blockpost.engine import targets
from blockpost.engine.context import EngineContext
from blockpost.engine.runs import check_request_token
from blockpost.errors import InvalidInput, PermissionDenied
from blockpost.services.principal import Principal
from blockpost.timefmt import utcnow


async def partial_rebuild(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    original: Pipeline,
    request_token: str,
) -> Pipeline:
    """Starts the rebuild of a done pipeline that did not pass; the same request token
    gives the same new pipeline back. The engine initialises it from the same file and
    commit, and `keep_passed` then carries the original's passed blocks over."""
    check_request_token(request_token)
    done = await session.scalar(
        select(Pipeline).where(
            Pipeline.partial_rerun_of == original.id, Pipeline.request_token == request_token
        )
    )
    if done is not None:
        return done
    # Semaphore's own messages, which scripts may already look for
    if original.state != "done":
        raise InvalidInput(
            "pipeline_id", "Only pipelines which are in done state can be partial rebuilt."
        )
    if original.result == "passed":
        raise InvalidInput("pipeline_id", "Pipelines which passed can not be partial rebuilt.")
    if original.target_id:
        # the rebuild gets the target's secrets: its rules apply as to a promotion
        target = await session.get(DeploymentTarget, original.target_id)
        workflow = await session.get(Workflow, original.workflow_id)
        assert workflow is not None  # pipelines go with their workflow
        refused = await targets.refusal(session, target, workflow, caller) if target else ""
        if refused:
            raise PermissionDenied(f"Access to deployment target denied: {refused}")
    # Two requests with one token at the same moment: the (partial_rerun_of, request_token)
    # unique constraint refuses the second with 409, and its retry gets the first's pipeline.
    pipeline = Pipeline(
        workflow_id=original.workflow_id,
        project_id=original.project_id,
        yaml_file_path=original.yaml_file_path,
        promotion_of=original.promotion_of,
        promoted_by=original.promoted_by,
        parameters=dict(original.parameters),
        ancestors=list(original.ancestors),
        target_id=original.target_id,
        triggerer_user_id=caller.uuid,
        partial_rerun_of=original.id,
        request_token=request_token,
        created_at=utcnow(),
    )
    session.add(pipeline)
    await session.flush()
    await wake_engine(session, ctx.wakeups, pipeline.id)
    return pipeline


async def keep_passed(session: AsyncSession, pipeline: Pipeline, blocks: list[Block]) -> set[str]:
    """Marks the blocks that passed in the rebuilt pipeline as passed here too, under the
    original's build request (its jobs are theirs); returns their ids, whose jobs are not
    to be created. Blocks that failed, stopped or were canceled, and so their dependents,
    wait to run again."""
    if pipeline.partial_rerun_of is None:
        return set()
    passed = {
        block.name: block
        for block in await session.scalars(
            select(Block).where(
                Block.pipeline_id == pipeline.partial_rerun_of, Block.result == "passed"
            )
        )
    }
    kept = set()
    for block in blocks:
        before = passed.get(block.name)
        if before is None:
            continue
        block.state = "done"
        block.result = "passed"
        block.result_reason = before.result_reason
        block.build_req_id = before.build_req_id
        block.started_at = before.started_at
        block.done_at = before.done_at
        kept.add(block.id)
    return kept
