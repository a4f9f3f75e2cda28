"""Which jobs a user may see and stop (as for their pipelines); jobs of no project: admins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Job
from blockpost.errors import NotFound
from blockpost.services import projects
from blockpost.services.principal import Principal


async def visible_job(session: AsyncSession, caller: Principal, job_id: str) -> Job:
    job = await session.get(Job, job_id)
    missing = NotFound(f"job {job_id!r} not found")
    if job is None:
        raise missing
    if job.project_id is None:
        if not caller.admin:
            raise missing
        return job
    try:
        await projects.get_project(session, caller, job.project_id)
    except NotFound:
        raise missing from None
    return job


async def stoppable_job(session: AsyncSession, caller: Principal, job_id: str) -> Job:
    """The job, if the caller may stop it: the right that terminating its pipeline needs."""
    job = await visible_job(session, caller, job_id)
    if job.project_id is not None:
        await projects.runnable(session, caller, job.project_id)
    return job
