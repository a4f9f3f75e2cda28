"""Job logs: the agent pushes JSON event lines; readers get events or plain text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import storable
from blockpost.db.models import Job, JobLogChunk
from blockpost.errors import BlockpostError, InvalidInput

MAX_LINES_PER_PUSH = 2000
EVENTS = ("job_started", "cmd_started", "cmd_output", "cmd_finished", "job_finished")
MASK = "[secret]"
MIN_MASKED = 4


class LogFull(BlockpostError):
    """The job's log reached its size cap; the agent stops pushing."""


class TooManyLines(BlockpostError):
    """More event lines in one push than the protocol allows."""


def parse_lines(body: str) -> list[str]:
    """The pushed body as event lines; each must be a JSON object with a known `event`.

    Split on "\n" only: JSON text may hold U+2028 and friends, which splitlines() splits on.
    A NUL or an unpaired surrogate a command printed becomes U+FFFD: PostgreSQL cannot store
    them, and the rest of the line is worth keeping.
    """
    lines = [line.rstrip("\r") for line in body.split("\n") if line.strip()]
    rewrite = storable.escaped_in(body)
    if len(lines) > MAX_LINES_PER_PUSH:
        raise TooManyLines(f"at most {MAX_LINES_PER_PUSH} event lines per request")
    for number, line in enumerate(lines, start=1):
        if storable.json_too_deep(line.encode()):
            depth = storable.MAX_JSON_DEPTH
            raise InvalidInput(f"line {number}", f"is nested deeper than {depth} levels")
        try:
            event = json.loads(line)
        except ValueError:
            raise InvalidInput(f"line {number}", "is not JSON") from None
        if not isinstance(event, dict) or event.get("event") not in EVENTS:
            raise InvalidInput(
                f"line {number}", f"must be an object with event one of {', '.join(EVENTS)}"
            )
        if rewrite and storable.escaped_in(line):
            lines[number - 1] = json.dumps(storable.storable(event), ensure_ascii=False)
    return lines


def mask_secrets(lines: list[str], values: Sequence[str]) -> list[str]:
    """Secret values printed by a command are stored as `[secret]` (Semaphore stores them as
    printed). A value shorter than MIN_MASKED characters is left alone, as is one that the
    agent's output split across two events."""
    values = sorted({value for value in values if len(value) >= MIN_MASKED}, key=len, reverse=True)
    if not values:
        return lines
    # A line that holds a value holds one of its JSON spellings: only those lines are decoded.
    spellings = {
        json.dumps(value, ensure_ascii=ascii)[1:-1] for value in values for ascii in (True, False)
    }
    masked = []
    for line in lines:
        if not any(spelling in line for spelling in spellings):
            masked.append(line)
            continue
        event = json.loads(line)
        for key in ("output", "directive"):
            text = event.get(key)
            if isinstance(text, str):
                for value in values:
                    text = text.replace(value, MASK)
                event[key] = text
        masked.append(json.dumps(event, ensure_ascii=False))
    return masked


async def _truncate(session: AsyncSession, job: Job, start: int) -> None:
    """Forgets events from `start` on: later chunks go, a chunk across `start` is cut."""
    across = await session.scalar(
        select(JobLogChunk).where(
            JobLogChunk.job_id == job.id,
            JobLogChunk.first < start,
            JobLogChunk.first + JobLogChunk.count > start,
        )
    )
    await session.execute(
        delete(JobLogChunk).where(JobLogChunk.job_id == job.id, JobLogChunk.first >= start)
    )
    if across is not None:
        kept = across.body.split("\n")[: start - across.first]
        across.body = "\n".join(kept)
        across.count = len(kept)
        across.size = sum(len(line) for line in kept)
    await session.flush()
    job.log_bytes = int(
        await session.scalar(
            select(func.coalesce(func.sum(JobLogChunk.size), 0)).where(JobLogChunk.job_id == job.id)
        )
        or 0
    )
    job.log_events = start


async def push(
    session: AsyncSession, job: Job, start_from: int, lines: Sequence[str], cap: int
) -> None:
    """Stores `lines` as events `start_from`...: a resent batch replaces what it covers, so
    retries never duplicate; a gap is closed up (the lines go at the current end)."""
    if start_from < 0:
        raise InvalidInput("start_from", "must be 0 or more")
    start = min(start_from, job.log_events)
    if start < job.log_events:
        await _truncate(session, job, start)
    size = sum(len(line) for line in lines)
    if job.log_bytes + size > cap:
        raise LogFull(f"No more space: this job's log is capped at {cap} bytes")
    if lines:
        session.add(
            JobLogChunk(
                job_id=job.id, first=start, count=len(lines), size=size, body="\n".join(lines)
            )
        )
    job.log_events = start + len(lines)
    job.log_bytes += size
    await session.flush()


async def events(
    session: AsyncSession, job_id: str, start: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """Events from index `start`; at most `limit`, decoding no more chunks than they need
    (the web UI reads a large log a few thousand events at a time)."""
    chunks = await session.execute(
        select(JobLogChunk.first, JobLogChunk.body)
        .where(JobLogChunk.job_id == job_id, JobLogChunk.first + JobLogChunk.count > start)
        .order_by(JobLogChunk.first)
    )
    found: list[dict[str, Any]] = []
    for first, body in chunks:
        lines = body.split("\n")[max(start - first, 0) :]
        if limit is not None:
            lines = lines[: limit - len(found)]
        found.extend(json.loads(line) for line in lines)
        if limit is not None and len(found) >= limit:
            break
    return found


def plain_text(log_events: Sequence[dict[str, Any]]) -> str:
    """Each command's directive on its own line, then its output, as Semaphore renders it."""
    parts = []
    for event in log_events:
        if event.get("event") == "cmd_started":
            parts.append(f"{event.get('directive', '')}\n")
        elif event.get("event") == "cmd_output":
            parts.append(str(event.get("output", "")))
    return "".join(parts)
