"""A commit status as an HTTP request: its endpoint and body, fixed at the first attempt,
and the project's token, read at each one (a replaced token sends the retries)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.commit_status.forges import ApiRoots, CommitState, forge_of
from blockpost.crypto import Sealer
from blockpost.db.models import Job, NotificationDelivery, Pipeline, Project, Workflow


class Undeliverable(Exception):
    """A commit status that no retry can send."""


def pipeline_url(server_url: str, pipeline_id: str) -> str:
    return f"{server_url}/api/v1alpha/pipelines/{pipeline_id}"


async def _commit(session: AsyncSession, pipeline: Pipeline, workflow: Workflow) -> str:
    """The commit a status is for: a pull request's head, as Semaphore reports it (the
    run's commit is the test merge), else the run's commit. Initialisation worked the head
    out for the jobs' SEMAPHORE_GIT_PR_SHA; each job's spec keeps it."""
    if workflow.ref_type != "pull-request":
        return workflow.commit_sha
    job = await session.scalar(select(Job).where(Job.pipeline_id == pipeline.id).limit(1))
    git_env = job.spec.get("git_env_vars", []) if job else []
    env = {item["name"]: item["value"] for item in git_env}
    return env.get("SEMAPHORE_GIT_PR_SHA") or workflow.commit_sha


async def prepare(
    session: AsyncSession,
    sealer: Sealer,
    delivery: NotificationDelivery,
    roots: ApiRoots,
    server_url: str,
) -> dict[str, str]:
    """Fills the delivery's endpoint and body if this is its first attempt (the link goes
    to the pipeline on `server_url`); returns the headers that carry the token."""
    project = await session.get(Project, delivery.project_id) if delivery.project_id else None
    pipeline = await session.get(Pipeline, delivery.pipeline_id)
    if project is None or pipeline is None:
        raise Undeliverable("the project or pipeline is gone")
    forge = forge_of(project.integration_type, project.repository_url)
    if forge is None:
        raise Undeliverable("the project's integration_type and repository URL name no forge")
    if not project.status_token:
        raise Undeliverable("the project has no status token any more")
    try:
        token = str(sealer.open(project.status_token))
    except ValueError as exc:
        raise Undeliverable(f"the status token cannot be read: {exc}") from None
    if not delivery.body:
        workflow = await session.get(Workflow, pipeline.workflow_id)
        assert workflow is not None, "pipelines.workflow_id is a foreign key"
        try:
            delivery.endpoint = forge.endpoint(roots, await _commit(session, pipeline, workflow))
        except ValueError as exc:
            raise Undeliverable(str(exc)) from None
        link = pipeline_url(server_url, pipeline.id)
        body = forge.body(CommitState(delivery.status), delivery.context, link)
        delivery.body = json.dumps(body)
    return {"Accept": "application/json", **forge.headers(token)}
