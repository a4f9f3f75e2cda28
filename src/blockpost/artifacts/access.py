"""What a job's artifact token may reach, and what a person may see or delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.artifacts.paths import Key
from blockpost.db.models import Job, Pipeline, Project, Workflow
from blockpost.errors import NotAuthenticated, NotFound, PermissionDenied
from blockpost.services import projects
from blockpost.services.principal import Principal
from blockpost.timefmt import utcnow

# A job's token works while it runs and this long after: its epilogue's last push may
# reach the server after the agent reported the job finished.
GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class JobGrant:
    """The job a token belongs to, and the project and workflow it runs in ("" for a
    standalone job, which has none)."""

    job_id: str
    project_id: str
    workflow_id: str


async def grant_for_job(session: AsyncSession, job_id: str) -> JobGrant:
    row = (
        await session.execute(
            select(Job.project_id, Job.state, Job.finished_at, Pipeline.workflow_id)
            .outerjoin(Pipeline, Pipeline.id == Job.pipeline_id)
            .where(Job.id == job_id)
        )
    ).first()
    if row is None or row.project_id is None:
        raise NotAuthenticated("artifact token of no job on this server")
    if row.state == "finished" and (row.finished_at is None or row.finished_at + GRACE < utcnow()):
        raise NotAuthenticated("artifact token of a job that has finished")
    return JobGrant(job_id, row.project_id, row.workflow_id or "")


def check_job_access(grant: JobGrant, key: Key) -> None:
    """A job reaches its project's, its workflow's and its own artifacts and nothing else,
    as Semaphore's hub checks its job token's claims."""
    owner = {"projects": grant.project_id, "workflows": grant.workflow_id, "jobs": grant.job_id}
    if owner[key.level] and key.owner == owner[key.level]:
        return
    raise PermissionDenied(f"this job's artifact token cannot reach {key.text}")


async def project_of(session: AsyncSession, caller: Principal, level: str, owner: str) -> Project:
    """The project whose artifacts these are, if the caller may see it; NotFound as for
    a project that does not exist otherwise."""
    project_id: str | None = owner
    if level == "workflows":
        project_id = await session.scalar(select(Workflow.project_id).where(Workflow.id == owner))
    elif level == "jobs":
        project_id = await session.scalar(select(Job.project_id).where(Job.id == owner))
    missing = NotFound(f"{level.removesuffix('s')} {owner!r} not found")
    if not project_id:
        raise missing
    try:
        return await projects.get_project(session, caller, project_id)
    except NotFound:
        raise missing from None
