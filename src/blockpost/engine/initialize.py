"""Initialisation: read and check the pipeline file, then store its blocks and held jobs."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import (
    Block,
    DeploymentTarget,
    HookDelivery,
    Pipeline,
    Project,
    User,
    Workflow,
)
from blockpost.dispatch import embedded, queue
from blockpost.engine.context import EngineContext
from blockpost.engine.jobspecs import SpecBuilder, secret_names
from blockpost.engine.plan import Decided, RunFacts, decide
from blockpost.engine.promotions import AUTO_PROMOTER, definitions
from blockpost.engine.rebuild import keep_passed
from blockpost.engine.transitions import advance, finish_pipeline
from blockpost.errors import NotFound, Unavailable
from blockpost.pipeline_yaml import PipelineInvalid
from blockpost.pipeline_yaml.when.lexer import WhenError
from blockpost.services import secrets
from blockpost.services.secrets import SecretData
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)


async def _load(
    session: AsyncSession, pipeline_id: str
) -> tuple[Pipeline, Workflow, Project] | None:
    pipeline = await session.get(Pipeline, pipeline_id, populate_existing=True)
    if pipeline is None or pipeline.state != "initializing":
        return None
    workflow = await session.get(Workflow, pipeline.workflow_id)
    project = await session.get(Project, pipeline.project_id)
    assert workflow is not None
    assert project is not None
    return pipeline, workflow, project


async def _with_forge_facts(session: AsyncSession, facts: RunFacts, workflow: Workflow) -> RunFacts:
    """A webhook's pull request facts (title, head repository and branch), which git alone
    does not know, from the delivery that started the workflow."""
    if workflow.triggered_by != "hook" or facts.ref_type != "pull-request":
        return facts
    delivery = await session.get(HookDelivery, workflow.hook_id)
    if delivery is None or not delivery.pull_request:
        return facts
    return replace(facts, forge_pull_request=delivery.pull_request)


async def initialize(ctx: EngineContext, pipeline_id: str) -> bool:
    """Moves an initializing pipeline to pending, or to done when it cannot run."""
    async with ctx.db.session() as session:
        loaded = await _load(session, pipeline_id)
        if loaded is None:
            return False
        facts = await _with_forge_facts(session, RunFacts.of(*loaded), loaded[1])
        project = loaded[2]
        repo = ctx.mirrors.for_project(project)
    failure: tuple[str, str] | None = None
    decided: Decided | None = None
    # git and parsing run outside any transaction: they may take a while
    try:
        decided = await asyncio.to_thread(decide, repo, facts)
    except PipelineInvalid as exc:
        failure = ("malformed", "\n".join(str(error) for error in exc.errors))
    except FileNotFoundError as exc:
        failure = ("malformed", f"Pipeline file: {exc.strerror}")
    except WhenError as exc:
        failure = ("malformed", f"Invalid 'when' condition: {exc}")
    except Unavailable as exc:
        failure = ("internal", exc.message)
    async with ctx.db.session() as session:
        pipeline = await session.get(Pipeline, pipeline_id, populate_existing=True)
        if pipeline is None or pipeline.state != "initializing":
            return False
        if pipeline.terminate_request:
            await finish_pipeline(session, ctx, pipeline, "canceled", pipeline.terminate_reason)
            return True
        if failure is None and decided is not None:
            failure = await _store(session, ctx, pipeline, facts, decided)
        if failure is not None:
            reason, description = failure
            await finish_pipeline(session, ctx, pipeline, "failed", reason, description)
        else:
            # Queued and started in the transaction that stored it: the first jobs go out
            # without another pass.
            await advance(session, ctx, pipeline)
    return True


async def _store(
    session: AsyncSession,
    ctx: EngineContext,
    pipeline: Pipeline,
    facts: RunFacts,
    decided: Decided,
) -> tuple[str, str] | None:
    """Writes blocks and held jobs and makes the pipeline pending; or says why it can't."""
    try:
        names = secret_names(decided.pipeline)
        allowed = facts.allowed_secrets
        found = await secrets.resolve(
            session,
            ctx.sealer,
            facts.project_id,
            names if allowed is None else [name for name in names if name in allowed],
        )
        # a forked pull request's jobs run without the secrets it may not have
        found |= {name: SecretData() for name in names if name not in found}
        target = (
            await session.get(DeploymentTarget, pipeline.target_id) if pipeline.target_id else None
        )
        builder = SpecBuilder(
            facts,
            decided,
            found,
            ctx.sealer,
            ctx.hosted_agent_type,
            target=(target.name, SecretData.unseal(ctx.sealer, target.sealed)) if target else None,
        )
        planned_blocks = builder.blocks()
        after = builder.after_pipeline()
        agent_types = {job.spec.agent_type for b in planned_blocks for job in b.jobs}
        agent_types |= {job.spec.agent_type for job in after}
        refused = await _embedded_refusal(session, ctx, pipeline, agent_types)
        if refused is not None:
            return "malformed", refused
    except NotFound as exc:
        return "malformed", exc.message
    except PipelineInvalid as exc:
        return "malformed", "\n".join(str(error) for error in exc.errors)
    blocks = [
        Block(
            pipeline_id=pipeline.id,
            index=planned.index,
            name=planned.name,
            dependencies=list(planned.dependencies),
            skip=planned.skip,
            fail_fast=planned.fail_fast,
        )
        for planned in planned_blocks
    ]
    session.add_all(blocks)
    await session.flush()
    kept = await keep_passed(session, pipeline, blocks)
    for planned, block in zip(planned_blocks, blocks, strict=True):
        if block.id in kept:
            continue
        for job in planned.jobs:
            session.add(
                queue.held(
                    job.spec,
                    job_id=job.id,
                    pipeline_id=pipeline.id,
                    block_id=block.id,
                    index=job.index,
                )
            )
    for job in after:
        session.add(
            queue.held(
                job.spec, job_id=job.id, pipeline_id=pipeline.id, block_id=None, index=job.index
            )
        )
    limit = decided.pipeline.execution_time_limit
    pipeline.name = decided.pipeline.name
    pipeline.promotions = definitions(decided.pipeline)
    pipeline.fail_fast = decided.fail_fast
    pipeline.auto_cancel = decided.auto_cancel
    pipeline.queue_key = decided.queue_key
    pipeline.queue_parallel = decided.queue_parallel
    pipeline.execution_time_limit = limit * 60 if limit else None
    pipeline.state = "pending"
    pipeline.pending_at = utcnow()
    await session.flush()
    return None


async def _embedded_refusal(
    session: AsyncSession, ctx: EngineContext, pipeline: Pipeline, agent_types: set[str]
) -> str | None:
    """Why the person who started this pipeline may not use the embedded agents it asks
    for: the one who rebuilt it, or who promoted it, or else who started its workflow."""
    if (
        ctx.embedded_users is not embedded.EmbeddedUsers.ADMINS
        or embedded.EMBEDDED_AGENT_TYPE not in agent_types
    ):
        return None
    if pipeline.partial_rerun_of and pipeline.triggerer_user_id:
        who = select(User.admin).where(User.uuid == pipeline.triggerer_user_id)
    elif pipeline.promoted_by and pipeline.promoted_by != AUTO_PROMOTER:
        who = select(User.admin).where(User.username == pipeline.promoted_by)
    else:
        workflow = await session.get(Workflow, pipeline.workflow_id)
        assert workflow is not None
        who = select(User.admin).where(User.uuid == workflow.requester_id)
    admin = bool(await session.scalar(who))
    return embedded.refusal(ctx.embedded_users, embedded.EMBEDDED_AGENT_TYPE, admin)
