"""The one place that turns datetimes into each timestamp format the Semaphore API uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@overload
def epoch_int(value: datetime) -> int: ...
@overload
def epoch_int(value: None) -> None: ...
@overload
def epoch_int(value: datetime | None) -> int | None: ...
def epoch_int(value: datetime | None) -> int | None:
    """Integer epoch seconds, e.g. agent types' `create_time: 1632129338`."""
    return None if value is None else int(_utc(value).timestamp())


@overload
def epoch_str(value: datetime) -> str: ...
@overload
def epoch_str(value: None) -> None: ...
@overload
def epoch_str(value: datetime | None) -> str | None: ...
def epoch_str(value: datetime | None) -> str | None:
    """Epoch seconds as a string, e.g. jobs' `"create_time": "1571083003"`."""
    seconds = epoch_int(value)
    return None if seconds is None else str(seconds)


def epoch_micros(value: datetime) -> int:
    """Epoch microseconds, e.g. deployment history cursors."""
    delta = _utc(value) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def seconds_nanos(value: datetime | None) -> dict[str, int]:
    """`{"seconds": 1571063401, "nanos": 559492000}`; a blank time is all zeros."""
    if value is None:
        return {"seconds": 0, "nanos": 0}
    utc = _utc(value)
    return {"seconds": int(utc.timestamp()), "nanos": utc.microsecond * 1000}


def custom(value: datetime | None) -> str:
    """`"2019-10-14 12:11:47.824128Z"`; a blank time is the epoch, as Semaphore shows it."""
    return _utc(value or EPOCH).strftime("%Y-%m-%d %H:%M:%S.%fZ")


@overload
def iso_micros(value: datetime) -> str: ...
@overload
def iso_micros(value: None) -> None: ...
@overload
def iso_micros(value: datetime | None) -> str | None: ...
def iso_micros(value: datetime | None) -> str | None:
    """`"2023-06-01T10:07:36.000000Z"`, e.g. deployment targets."""
    return None if value is None else _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@overload
def iso_seconds(value: datetime) -> str: ...
@overload
def iso_seconds(value: None) -> None: ...
@overload
def iso_seconds(value: datetime | None) -> str | None: ...
def iso_seconds(value: datetime | None) -> str | None:
    """`"2025-05-21T02:35:12Z"`, e.g. API tokens' `created`."""
    return None if value is None else _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


EPOCH_MAX = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime holds


def from_epoch_micros(micros: int) -> datetime:
    """The inverse of epoch_micros, exactly (no float on the way)."""
    return EPOCH + timedelta(microseconds=micros)


def from_epoch(seconds: int | float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def human(value: datetime | None) -> str:
    """`"2026-12-01 22:35:07 UTC"` for people (the web UI); "" for no time."""
    return "" if value is None else _utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: datetime | None, end: datetime | None) -> str:
    """`"1h 02m"`, `"3m 05s"`, `"4.2s"` from start to end (to now while running)."""
    if start is None:
        return ""
    seconds = ((_utc(end) if end else utcnow()) - _utc(start)).total_seconds()
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
