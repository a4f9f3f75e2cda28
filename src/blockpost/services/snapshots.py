"""Workflow snapshots (`sem create workflow`): run from an uploaded archive, and let the
snapshot's jobs clone it from the server."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.crypto import Sealer
from blockpost.db.base import new_uuid
from blockpost.db.models import Job, Pipeline, Workflow
from blockpost.engine import runs
from blockpost.engine.context import EngineContext
from blockpost.errors import NotAuthenticated, NotFound
from blockpost.git import snapshots as git_snapshots
from blockpost.git.snapshots import UNPACKED_FACTOR, Author, SnapshotStore, check_label
from blockpost.services import projects
from blockpost.services.principal import Principal
from blockpost.timefmt import utcnow

DEFAULT_LABEL = "snapshot"  # the CLI's when given none


def store(ctx: EngineContext) -> SnapshotStore:
    return SnapshotStore(ctx.mirrors.root / "snapshots", ctx.mirrors.timeout)


async def run_snapshot(
    session: AsyncSession,
    ctx: EngineContext,
    caller: Principal,
    project_ref: str,
    label: str,
    archive: bytes,
    *,
    pipeline_file: str | None,
    max_archive_bytes: int,
) -> tuple[Workflow, Pipeline]:
    """A workflow on the archive's contents, its branch the label. A bad archive is a 400
    naming snapshot_archive, and leaves nothing behind."""
    project = await projects.runnable(session, caller, project_ref)
    label = check_label(label or DEFAULT_LABEL)
    if pipeline_file:
        projects.check_pipeline_file(pipeline_file, "pipeline_file")
    mirror = ctx.mirrors.for_project(project)
    author = Author(caller.username, f"{caller.username}@blockpost", int(utcnow().timestamp()))
    snapshot = await asyncio.to_thread(
        store(ctx).create,
        mirror,
        new_uuid(),
        label,
        archive,
        author,
        max_archive_bytes * UNPACKED_FACTOR,
    )
    run = runs.RunRequest(snapshot.ref, snapshot.commit_sha, pipeline_file)
    return await runs.start_workflow(session, ctx, caller, project, run)


def _opened(sealer: Sealer, token: str) -> dict[str, Any] | None:
    try:
        opened = sealer.open(token)
    except ValueError:
        return None
    return opened if isinstance(opened, dict) else None


async def check_job_access(
    session: AsyncSession, sealer: Sealer, snapshot_id: str, job_id: str, token: str
) -> None:
    """The credentials are the ones a job of this snapshot got with its payload, and the
    job still runs (its log token is cleared when it ends, and replaced when it is
    fetched again). Raises NotAuthenticated otherwise."""
    opened = _opened(sealer, token)
    if (
        opened is None
        or opened.get("job") != job_id
        or opened.get("snapshot") != snapshot_id
        or not opened.get("log")
    ):
        raise NotAuthenticated("not a snapshot token of a running job")
    found = await session.scalar(
        select(Job.id).where(Job.id == job_id, Job.log_token_hash == opened["log"])
    )
    if found is None:
        raise NotAuthenticated("not a snapshot token of a running job")


async def upload_pack(
    ctx: EngineContext, snapshot_id: str, body: bytes, *, advertise: bool
) -> bytes:
    path = store(ctx).path(snapshot_id)
    if not (path / "HEAD").exists():
        raise NotFound(f"snapshot {snapshot_id!r} not found")
    return await asyncio.to_thread(
        git_snapshots.upload_pack, path, body, ctx.mirrors.timeout, advertise=advertise
    )
