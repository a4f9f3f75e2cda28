"""Standalone jobs (the jobs API, `sem create job`): queued with the environment
Semaphore gives a job of no pipeline."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.base import new_uuid
from blockpost.db.models import Job, Project
from blockpost.dispatch import jobenv, queue
from blockpost.dispatch.queue import JobSpec
from blockpost.dispatch.wakeup import Wakeups
from blockpost.timefmt import utcnow

JOB_TYPE = "project_debug_job"  # Semaphore's for a job with no pipeline and no debug session


async def enqueue(session: AsyncSession, wakeups: Wakeups, project: Project, spec: JobSpec) -> Job:
    """Queues the job; its env_vars follow the SEMAPHORE_* ones and the project's
    repository at its default branch."""
    job_id = new_uuid()
    now = utcnow()
    own = jobenv.job_env(
        job_id=job_id,
        name=spec.name,
        job_type=JOB_TYPE,
        created_at=now,
        project_id=project.id,
        project_name=project.name,
        machine_type=spec.machine_type,
        os_image=spec.os_image,
        containers=bool(spec.containers),
    )
    git = jobenv.project_git_env(project.repository_url)
    full = replace(spec, project_id=project.id, job_env=own, git_env=git)
    return await queue.enqueue(session, wakeups, full, job_id=job_id, created_at=now)
