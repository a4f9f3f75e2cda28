"""Which jobs a user may see, list and stop (as for their pipelines); jobs of no project: admins."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Job, Project
from blockpost.db.paging import fetch_page
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


async def visible_job_ids(
    session: AsyncSession, caller: Principal, job_ids: Iterable[str]
) -> set[str]:
    """Those of `job_ids` whose jobs visible_job shows the caller, in one query."""
    wanted = set(job_ids)
    if not wanted or caller.admin:
        return wanted
    rows = await session.scalars(
        select(Job.id)
        .join(Project, Project.id == Job.project_id)
        .where(Job.id.in_(wanted), projects.visible_to(caller))
    )
    return set(rows.all())


async def stoppable_job(session: AsyncSession, caller: Principal, job_id: str) -> Job:
    """The job, if the caller may stop it: the right that terminating its pipeline needs."""
    job = await visible_job(session, caller, job_id)
    if job.project_id is not None:
        await projects.runnable(session, caller, job.project_id)
    return job


async def list_jobs(
    session: AsyncSession, caller: Principal, states: Collection[str], offset: int, limit: int
) -> tuple[list[Job], int]:
    """Jobs in `states` (our lowercase ones) of the projects the caller can see, newest
    first; jobs of no project are listed to administrators only, as they are described."""
    query = select(Job).where(Job.state.in_(states))
    if not caller.admin:
        visible = select(Project.id).where(projects.visible_to(caller))
        query = query.where(Job.project_id.in_(visible))
    query = query.order_by(Job.created_at.desc(), Job.id.desc())
    return await fetch_page(session, query, offset, limit)
