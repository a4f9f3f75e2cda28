"""The job queue: enqueue, claim (one atomic statement), stop, finish."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.base import new_uuid
from blockpost.db.engine import after_commit
from blockpost.db.models import Agent, AgentType, Job
from blockpost.dispatch.wakeup import (
    AGENTS_CHANNEL,
    ENGINE_CHANNEL,
    JOBS_CHANNEL,
    Wakeups,
    jobs_notification,
)
from blockpost.errors import Conflict, NotFound
from blockpost.timefmt import utcnow

RESULTS = ("passed", "failed", "stopped")
TIME_LIMIT_REASON = "execution time limit exceeded"


@dataclass(frozen=True)
class FileSpec:
    path: str
    content: bytes
    mode: str = "0644"


@dataclass(frozen=True)
class ContainerSpec:
    """A container of a container job: the first is the job's own, the others its services."""

    name: str
    image: str
    command: str = ""
    entrypoint: str = ""
    user: str = ""
    env_vars: Sequence[tuple[str, str]] = ()
    secret_names: Sequence[str] = ()


@dataclass(frozen=True)
class JobSpec:
    """What an agent needs to run a job; env values and files are plain here."""

    name: str
    agent_type: str
    commands: Sequence[str]
    env_vars: Sequence[tuple[str, str]] = ()  # exported after the secrets (see jobenv)
    job_env: Sequence[tuple[str, str]] = ()  # jobenv.job_env, exported first
    git_env: Sequence[tuple[str, str]] = ()  # SEMAPHORE_GIT_*, before the secrets
    files: Sequence[FileSpec] = ()
    epilogue_always: Sequence[str] = ()
    epilogue_on_pass: Sequence[str] = ()
    epilogue_on_fail: Sequence[str] = ()
    machine_type: str = ""
    os_image: str = ""
    project_id: str | None = None
    execution_time_limit: int | None = None  # seconds
    secret_names: Sequence[str] = ()
    sealed_secrets: str | None = None  # crypto.Sealer-sealed {"env_vars": [...], "files": [...]}
    containers: Sequence[ContainerSpec] = ()  # none: the job runs on the agent's machine
    image_pull_secrets: Sequence[str] = ()
    # Sealed {"containers": [[{name, value}, ...] per container], "image_pull_credentials":
    # [{"env_vars": [...], "files": [...]}, ...]}: the values of the containers' secrets.
    sealed_compose: str | None = None

    def as_json(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "commands": list(self.commands),
            "env_vars": [{"name": name, "value": value} for name, value in self.env_vars],
            "job_env_vars": [{"name": name, "value": value} for name, value in self.job_env],
            "git_env_vars": [{"name": name, "value": value} for name, value in self.git_env],
            "files": [
                {"path": f.path, "content": base64.b64encode(f.content).decode(), "mode": f.mode}
                for f in self.files
            ],
            "epilogue_always_commands": list(self.epilogue_always),
            "epilogue_on_pass_commands": list(self.epilogue_on_pass),
            "epilogue_on_fail_commands": list(self.epilogue_on_fail),
            "secrets": list(self.secret_names),
            "sealed": self.sealed_secrets,
        }
        if self.containers:
            spec["compose"] = {
                "containers": [
                    {
                        "name": c.name,
                        "image": c.image,
                        "command": c.command,
                        "entrypoint": c.entrypoint,
                        "user": c.user,
                        "env_vars": [{"name": name, "value": value} for name, value in c.env_vars],
                        "secrets": list(c.secret_names),
                    }
                    for c in self.containers
                ],
                "image_pull_secrets": list(self.image_pull_secrets),
                "sealed": self.sealed_compose,
            }
        return spec


async def notify(session: AsyncSession, wakeups: Wakeups, channel: str, payload: str) -> None:
    """On PostgreSQL, tells the other replicas; delivered only if the transaction commits."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": channel, "payload": wakeups.stamped(payload)},
        )


def _job(spec: JobSpec, **columns: Any) -> Job:
    return Job(
        name=spec.name,
        project_id=spec.project_id,
        agent_type=spec.agent_type,
        machine_type=spec.machine_type,
        os_image=spec.os_image,
        needs_containers=bool(spec.containers),
        spec=spec.as_json(),
        execution_time_limit=spec.execution_time_limit,
        **columns,
    )


def held(spec: JobSpec, *, job_id: str, pipeline_id: str, block_id: str | None, index: int) -> Job:
    """A pipeline job that waits (`pending`) until its block starts; see `release`."""
    return _job(
        spec, id=job_id, pipeline_id=pipeline_id, block_id=block_id, index=index, state="pending"
    )


async def release(session: AsyncSession, wakeups: Wakeups, jobs: Sequence[Job]) -> None:
    """Queues held jobs whose turn has come, and wakes agents of their types."""
    now = utcnow()
    queued: Counter[tuple[str, bool]] = Counter()
    for job in jobs:
        if job.state == "pending":
            job.state = "queued"
            job.queued_at = now
            queued[job.agent_type, job.needs_containers] += 1
    await session.flush()
    for (agent_type, containers), count in queued.items():
        await _announce(session, wakeups, agent_type, count, containers=containers)


async def release_block(session: AsyncSession, wakeups: Wakeups, block_id: str) -> int:
    """Queues a starting block's held jobs in one statement (none of them need be loaded),
    wakes agents of their types, and says how many it queued."""
    jobs = Job.__table__
    rows = (
        await session.execute(
            update(jobs)
            .where(jobs.c.block_id == block_id, jobs.c.state == "pending")
            .values(state="queued", queued_at=utcnow())
            .returning(jobs.c.agent_type, jobs.c.needs_containers)
        )
    ).all()
    queued = Counter((row.agent_type, row.needs_containers) for row in rows)
    for (agent_type, containers), count in queued.items():
        await _announce(session, wakeups, agent_type, count, containers=containers)
    return len(rows)


async def discard_pending(session: AsyncSession, block_id: str) -> None:
    """A block that will not run (skipped, canceled) keeps no jobs, as in Semaphore."""
    await session.execute(delete(Job).where(Job.block_id == block_id, Job.state == "pending"))


async def enqueue(
    session: AsyncSession,
    wakeups: Wakeups,
    spec: JobSpec,
    *,
    job_id: str | None = None,
    created_at: datetime | None = None,
) -> Job:
    """A job of no pipeline, queued at once; the id and creation time its environment
    names may be given."""
    now = utcnow()
    job = _job(
        spec,
        id=job_id or new_uuid(),
        state="queued",
        created_at=created_at or now,
        queued_at=now,
    )
    session.add(job)
    await session.flush()
    await _announce(session, wakeups, spec.agent_type, 1, containers=job.needs_containers)
    return job


async def _announce(
    session: AsyncSession, wakeups: Wakeups, agent_type: str, count: int, *, containers: bool
) -> None:
    """Once committed, `count` waiting agents of the type look (for container jobs, agents
    that can run them), here and on other replicas. (The count is in the payload:
    PostgreSQL folds equal notifications of a transaction.)"""
    await notify(session, wakeups, JOBS_CHANNEL, jobs_notification(agent_type, count, containers))
    after_commit(session, lambda: wakeups.job_queued(agent_type, count, containers=containers))


@dataclass(frozen=True)
class Claimed:
    job_id: str
    waited: float  # seconds the job was queued


def _claim_statement(
    agent_id: int, agent_type: str, containers: bool, name: str, ip_address: str, now: datetime
) -> Any:
    """Gives the oldest queued job of the type that the agent can run (a container job only
    to an agent that can run containers) to the agent, returning its id and queued_at.

    One statement: on PostgreSQL the candidate row is locked with SKIP LOCKED so concurrent
    claims take different jobs; on SQLite the single writer serialises them. The outer
    `state = 'queued'` re-check keeps it correct either way. Core, not ORM: the ORM's UPDATE
    machinery (session synchronisation, autoflush) cost more than the SQL on this hot path.
    """
    jobs = Job.__table__
    runnable = [jobs.c.agent_type == agent_type, jobs.c.state == "queued"]
    if not containers:
        runnable.append(~jobs.c.needs_containers)
    candidate = (
        select(jobs.c.id)
        .where(*runnable)
        .order_by(jobs.c.queued_at, jobs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(jobs)
        .where(jobs.c.id == candidate, jobs.c.state == "queued")
        .values(
            state="running",
            agent_id=agent_id,
            agent_name=name,
            agent_ip=ip_address,
            started_at=now,
            updated_at=now,
        )
        .returning(jobs.c.id, jobs.c.queued_at)
    )


async def claim(session: AsyncSession, agent: Agent) -> Claimed | None:
    """A job for the loaded agent (see _claim_statement), or none."""
    now = utcnow()
    statement = _claim_statement(
        agent.id,
        agent.agent_type.name,
        agent.can_run_containers,
        agent.name,
        agent.ip_address,
        now,
    )
    # No autoflush: the agent's pending sync record goes out with its job_id, in one UPDATE.
    with session.no_autoflush:
        row = (await session.execute(statement)).first()
    if row is None:
        return None
    agent.job_id = row.id
    await session.flush()
    return Claimed(row.id, (now - (row.queued_at or now)).total_seconds())


async def claim_for(
    session: AsyncSession,
    agent_id: int,
    agent_type: str,
    *,
    containers: bool,
    name: str,
    ip_address: str,
) -> Claimed | None:
    """`claim` for an agent that is not loaded (its idle sync recorded it): Core only."""
    now = utcnow()
    statement = _claim_statement(agent_id, agent_type, containers, name, ip_address, now)
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    agents = Agent.__table__
    await session.execute(update(agents).where(agents.c.id == agent_id).values(job_id=row.id))
    return Claimed(row.id, (now - (row.queued_at or now)).total_seconds())


async def wake_engine(session: AsyncSession, wakeups: Wakeups, pipeline_id: str) -> None:
    """Once committed, the engine looks at the pipeline again, here and on other replicas."""
    await notify(session, wakeups, ENGINE_CHANNEL, pipeline_id)
    after_commit(session, lambda: wakeups.engine_poked(pipeline_id))


async def finish(
    session: AsyncSession, wakeups: Wakeups, job: Job, result: str, reason: str = ""
) -> None:
    """Ends a job once; a job already finished keeps its first result."""
    if job.state == "finished":
        return
    now = utcnow()
    job.state = "finished"
    job.result = result
    job.result_reason = job.result_reason or reason
    job.finished_at = now
    job.updated_at = now
    job.log_token_hash = None
    await session.flush()
    if job.pipeline_id is not None:
        await wake_engine(session, wakeups, job.pipeline_id)


async def finish_reported(
    session: AsyncSession, wakeups: Wakeups, agent_id: int, job_id: str, result: str, reason: str
) -> bool:
    """`finish` for the agent's report on its job, in one Core statement (a job of another
    agent, or already finished, is left as it is); whether the job exists."""
    jobs = Job.__table__
    now = utcnow()
    row = (
        await session.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.agent_id == agent_id, jobs.c.state != "finished")
            .values(
                state="finished",
                result=result,
                result_reason=case(
                    (func.coalesce(jobs.c.result_reason, "") == "", reason),
                    else_=jobs.c.result_reason,
                ),
                finished_at=now,
                updated_at=now,
                log_token_hash=None,
            )
            .returning(jobs.c.pipeline_id)
        )
    ).first()
    if row is None:
        return await session.scalar(select(jobs.c.id).where(jobs.c.id == job_id)) is not None
    if row.pipeline_id is not None:
        await wake_engine(session, wakeups, row.pipeline_id)
    return True


async def requeue(session: AsyncSession, wakeups: Wakeups, job: Job) -> None:
    """Puts a job handed to an agent that never fetched it back in line, at its old place:
    nothing of it ran (the payload holds the commands), so it may run elsewhere."""
    job.state = "queued"
    job.agent_id = None
    job.agent_name = ""
    job.agent_ip = ""
    job.started_at = None
    job.updated_at = utcnow()
    await session.flush()
    await _announce(session, wakeups, job.agent_type, 1, containers=job.needs_containers)


async def request_stop(session: AsyncSession, wakeups: Wakeups, job: Job, reason: str) -> None:
    """A queued job ends stopped at once; a running one is stopped by its agent."""
    if job.state == "finished":
        return
    if job.state in {"pending", "queued"}:
        await finish(session, wakeups, job, "stopped", reason)
        return
    if job.stop_requested_at is None:
        job.stop_requested_at = utcnow()
        job.result_reason = reason
        await session.flush()
        if job.agent_id is not None:
            agent_id = job.agent_id
            await notify(session, wakeups, AGENTS_CHANNEL, str(agent_id))
            after_commit(session, lambda: wakeups.agent_poked(agent_id))


async def get_job(session: AsyncSession, job_id: str) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found")
    return job


async def assigned_job(session: AsyncSession, agent: Agent, job_id: str) -> Job:
    """The job, if the server gave it to this agent; otherwise NotFound (never another's)."""
    job = await session.get(Job, job_id)
    if job is None or job.agent_id != agent.id:
        raise NotFound(f"job {job_id!r} is not assigned to this agent")
    if job.state != "running":
        raise Conflict(f"job {job_id!r} is {job.state}")
    return job


async def take_assigned(
    session: AsyncSession, agent_id: int, agent_token_hash: str, job_id: str, log_token_hash: str
) -> Job | None:
    """The running job the server gave this agent (registered, with this token), given a
    new log token: one UPDATE … RETURNING where `assigned_job` and the token took four
    statements. None when that is not so; `assigned_job` then says why."""
    agents = Agent.__table__
    agent_ok = (
        select(agents.c.id)
        .where(
            agents.c.id == agent_id,
            agents.c.token_hash == agent_token_hash,
            agents.c.state == "registered",
        )
        .exists()
    )
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.agent_id == agent_id, Job.state == "running", agent_ok)
        .values(log_token_hash=log_token_hash)
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(statement)).first()


async def waiting_reason(session: AsyncSession, job: Job) -> str | None:
    """Why a queued job has not started: no agent of its type (that can run containers, for
    a container job), or all of them busy."""
    if job.state != "queued":
        return None
    suitable = [AgentType.name == job.agent_type, Agent.state == "registered"]
    kind = job.agent_type
    if job.needs_containers:
        suitable.append(Agent.can_run_containers)
        kind += " that can run containers"
    connected = await session.scalar(
        select(func.count()).select_from(Agent).join(AgentType).where(*suitable)
    )
    if not connected:
        return f"waiting for an agent of type {kind}: none is connected"
    return f"waiting for a free agent of type {kind} ({connected} connected, all busy)"


async def stale_running(session: AsyncSession) -> Sequence[Job]:
    """Running jobs past their time limit that have not been asked to stop yet."""
    now = utcnow()
    rows = await session.scalars(
        select(Job).where(
            Job.state == "running",
            Job.execution_time_limit.is_not(None),
            Job.stop_requested_at.is_(None),
        )
    )
    return [
        job
        for job in rows
        if job.started_at is not None
        and (now - job.started_at).total_seconds() >= (job.execution_time_limit or 0)
    ]


async def release_agent(session: AsyncSession, agent: Agent) -> None:
    await session.execute(update(Agent).where(Agent.id == agent.id).values(job_id=None))
    agent.job_id = None
