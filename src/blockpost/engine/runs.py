"""Starting workflows (run, reschedule) and asking pipelines to stop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import events_log
from blockpost.db.base import new_uuid
from blockpost.db.models import Pipeline, Project, Workflow
from blockpost.dispatch.queue import wake_engine
from blockpost.engine.context import EngineContext
from blockpost.errors import InvalidInput
from blockpost.git import GitRef, Repository, parse_reference, sync_ref
from blockpost.services import projects
from blockpost.services.principal import Principal
from blockpost.services.projects import check_pipeline_file
from blockpost.timefmt import utcnow

# the length Workflow.request_token stores
MAX_REQUEST_TOKEN = 255
# branch ids are stable per project and branch name, so they need no table of their own
_BRANCH_NAMESPACE = uuid.UUID("3f0b8a52-8d5c-4a53-9a55-0c1e2f6a9b10")


@dataclass(frozen=True)
class RunRequest:
    reference: str
    commit_sha: str | None = None
    pipeline_file: str | None = None  # None: the project's pipeline file
    triggered_by: str = "api"  # api | schedule | hook
    parameters: Mapping[str, str] = field(default_factory=dict)
    hook_id: str | None = None  # a hook's delivery (hook_deliveries.id); else a new id
    allowed_secrets: tuple[str, ...] | None = None  # a forked pull request's; None: all


def branch_id(project_id: str, branch_name: str) -> str:
    return str(uuid.uuid5(_BRANCH_NAMESPACE, f"{project_id}/{branch_name}"))


def _resolve(repo: Repository, ref: GitRef, commit_sha: str | None) -> tuple[str, str]:
    """The commit the reference names (fetching it) and its message."""
    sha = sync_ref(repo, ref, commit_sha)
    return sha, repo.commit_fields(sha)["message"]


async def start_workflow(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    project: Project,
    run: RunRequest,
    *,
    rerun_of: str | None = None,
    request_token: str | None = None,
) -> tuple[Workflow, Pipeline]:
    """Resolves the reference to a commit (fetching the repository) and records a workflow
    whose first pipeline the engine initialises; errors in the YAML surface there."""
    ref = parse_reference(run.reference)
    pipeline_file = run.pipeline_file or project.pipeline_file
    check_pipeline_file(pipeline_file, "pipeline_file")
    repo = ctx.mirrors.for_project(project)
    sha, message = await asyncio.to_thread(_resolve, repo, ref, run.commit_sha)
    projects = Project.__table__
    number = await session.scalar(
        update(projects)
        .where(projects.c.id == project.id)
        .values(workflow_count=projects.c.workflow_count + 1)
        .returning(projects.c.workflow_count)
    )
    now = utcnow()
    pipeline_id = new_uuid()
    workflow = Workflow(
        project_id=project.id,
        number=number,
        requester_id=caller.uuid,
        requester_name=caller.username,
        branch_id=branch_id(project.id, ref.branch_name),
        reference=ref.reference,
        ref_type=ref.type,
        ref_name=ref.name,
        branch_name=ref.branch_name,
        commit_sha=sha,
        commit_message=message,
        pipeline_file=pipeline_file,
        triggered_by=run.triggered_by,
        hook_id=run.hook_id or new_uuid(),
        allowed_secrets=None if run.allowed_secrets is None else list(run.allowed_secrets),
        parameters=dict(run.parameters),
        initial_ppl_id=pipeline_id,
        rerun_of=rerun_of,
        request_token=request_token,
        created_at=now,
    )
    session.add(workflow)
    await session.flush()
    pipeline = Pipeline(
        id=pipeline_id,
        workflow_id=workflow.id,
        project_id=project.id,
        yaml_file_path=pipeline_file,
        triggerer_user_id=caller.uuid,
        created_at=now,
    )
    session.add(pipeline)
    await session.flush()
    await wake_engine(session, ctx.wakeups, pipeline.id)
    events_log.emit_after_commit(
        session,
        "workflow.started",
        workflow=workflow.id,
        project=project.name,
        by=caller.username,
        ref=ref.reference,
        sha=sha,
        triggered_by=run.triggered_by,
    )
    return workflow, pipeline


async def reschedule(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    project: Project,
    original: Workflow,
    request_token: str,
) -> tuple[Workflow, Pipeline]:
    """A new workflow for the same commit; the same request token gives the same one back."""
    done = await session.scalar(
        select(Workflow).where(
            Workflow.rerun_of == original.id, Workflow.request_token == request_token
        )
    )
    if done is not None:
        pipeline = await session.get(Pipeline, done.initial_ppl_id)
        assert pipeline is not None  # a workflow is created with its first pipeline
        return done, pipeline
    run = RunRequest(
        original.reference,
        original.commit_sha,
        original.pipeline_file,
        parameters=original.parameters,
    )
    # Two requests with one token at the same moment: the (rerun_of, request_token) unique
    # constraint refuses the second with 409, and its retry gets the first one's workflow.
    return await start_workflow(
        session, ctx, caller, project, run, rerun_of=original.id, request_token=request_token
    )


def check_request_token(request_token: str) -> None:
    """The idempotency key of a rerun: present, and short enough for its column."""
    if not request_token or len(request_token) > MAX_REQUEST_TOKEN:
        raise InvalidInput(
            "request_token", f"must be given, at most {MAX_REQUEST_TOKEN} characters"
        )


async def reschedule_workflow(
    session: AsyncSession, ctx: EngineContext, caller: Principal, wf_id: str, request_token: str
) -> tuple[Workflow, Pipeline]:
    """reschedule for the API and the web UI: the workflow, if the caller may run in its
    project (checked before the token, so that others learn nothing from a bad request)."""
    original = await projects.runnable_child(session, caller, Workflow, wf_id, "workflow")
    check_request_token(request_token)
    project = await projects.get_project(session, caller, original.project_id)
    return await reschedule(session, ctx, caller, project, original, request_token)


async def terminate(
    session: AsyncSession, ctx: EngineContext, pipeline: Pipeline, by: str, reason: str = "user"
) -> None:
    """Asks the engine to stop a pipeline: running jobs are stopped, the rest canceled."""
    if pipeline.state == "done" or pipeline.terminate_request:
        return
    pipeline.terminate_request = "stop"
    pipeline.terminate_reason = reason
    pipeline.terminated_by = by
    await session.flush()
    await wake_engine(session, ctx.wakeups, pipeline.id)


async def terminate_workflow(
    session: AsyncSession, ctx: EngineContext, workflow: Workflow, by: str
) -> None:
    rows = await session.scalars(
        select(Pipeline).where(Pipeline.workflow_id == workflow.id, Pipeline.state != "done")
    )
    for pipeline in rows.all():
        await terminate(session, ctx, pipeline, by)
