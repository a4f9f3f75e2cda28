"""Job logs: the agent pushes JSON event lines; readers get events or plain text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Job, JobLogEvent
from blockpost.errors import BlockpostError, InvalidInput

MAX_LINES_PER_PUSH = 2000
EVENTS = ("job_started", "cmd_started", "cmd_output", "cmd_finished", "job_finished")


class LogFull(BlockpostError):
    """The job's log reached its size cap; the agent stops pushing."""


class TooManyLines(BlockpostError):
    """More event lines in one push than the protocol allows."""


def parse_lines(body: str) -> list[str]:
    """The pushed body as event lines; each must be a JSON object with a known `event`."""
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) > MAX_LINES_PER_PUSH:
        raise TooManyLines(f"at most {MAX_LINES_PER_PUSH} event lines per request")
    for number, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
        except ValueError:
            raise InvalidInput(f"line {number}", "is not JSON") from None
        if not isinstance(event, dict) or event.get("event") not in EVENTS:
            raise InvalidInput(
                f"line {number}", f"must be an object with event one of {', '.join(EVENTS)}"
            )
    return lines


async def push(
    session: AsyncSession, job: Job, start_from: int, lines: Sequence[str], cap: int
) -> None:
    """Stores `lines` from position `start_from`: a resent batch replaces what it covers,
    so retries never duplicate; a gap is closed up (lines go at the current end)."""
    if start_from < 0:
        raise InvalidInput("start_from", "must be 0 or more")
    count = (
        await session.scalar(
            select(func.count()).select_from(JobLogEvent).where(JobLogEvent.job_id == job.id)
        )
        or 0
    )
    start = min(start_from, count)
    if start < count:
        await session.execute(
            delete(JobLogEvent).where(JobLogEvent.job_id == job.id, JobLogEvent.position >= start)
        )
        kept = await session.scalar(
            select(func.coalesce(func.sum(func.length(JobLogEvent.event)), 0)).where(
                JobLogEvent.job_id == job.id
            )
        )
        job.log_bytes = int(kept or 0)
    size = sum(len(line) for line in lines)
    if job.log_bytes + size > cap:
        raise LogFull(f"No more space: this job's log is capped at {cap} bytes")
    if lines:
        await session.execute(
            insert(JobLogEvent),
            [
                {"job_id": job.id, "position": start + offset, "event": line}
                for offset, line in enumerate(lines)
            ],
        )
    job.log_bytes += size
    await session.flush()


async def events(session: AsyncSession, job_id: str, start: int = 0) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(JobLogEvent.event)
        .where(JobLogEvent.job_id == job_id, JobLogEvent.position >= start)
        .order_by(JobLogEvent.position)
    )
    return [json.loads(line) for line in rows]


def plain_text(log_events: Sequence[dict[str, Any]]) -> str:
    """Each command's directive on its own line, then its output, as Semaphore renders it."""
    parts = []
    for event in log_events:
        if event.get("event") == "cmd_started":
            parts.append(f"{event.get('directive', '')}\n")
        elif event.get("event") == "cmd_output":
            parts.append(str(event.get("output", "")))
    return "".join(parts)
