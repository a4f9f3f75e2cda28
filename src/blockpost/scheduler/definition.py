"""The scheduler YAML (`kind: Schedule`, apiVersion v1.0 to v1.2), checked into a definition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from croniter import CroniterBadDateError, croniter

from blockpost.errors import InvalidInput
from blockpost.pipeline_yaml import PipelineInvalid
from blockpost.pipeline_yaml.loader import load
from blockpost.scheduler.parameters import Parameter, parse_parameters
from blockpost.services.projects import check_pipeline_file
from blockpost.timefmt import utcnow

FIELD = "yml_definition"
DEFAULT_PIPELINE_FILE = ".semaphore/semaphore.yml"
API_VERSIONS = ("v1.0", "v1.1", "v1.2")
SPEC_KEYS = {
    "project", "branch", "reference", "at", "pipeline_file", "paused", "recurring", "parameters",
}  # fmt: skip


@dataclass(frozen=True)
class ScheduleDefinition:
    name: str
    project: str
    branch: str  # "" for a task that is not recurring and is given a branch at each run
    at: str  # "" likewise
    pipeline_file: str = DEFAULT_PIPELINE_FILE
    paused: bool = False
    recurring: bool = True
    description: str = ""
    parameters: tuple[Parameter, ...] = ()
    id: str | None = None  # metadata.id: the schedule to update, as Semaphore's apply reads it


def _bad(where: str, reason: str) -> InvalidInput:
    return InvalidInput(FIELD, f"{where}: {reason}")


def _text(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where}.{key}", "is required and must be a non-empty string")
    return value.strip()


def next_tick(at: str, after: datetime) -> datetime:
    """The first time strictly after `after` that the cron expression names (UTC)."""
    result: datetime = croniter(at, after).get_next(datetime)
    return result


CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-6 or SUN-SAT"),
)


def check_cron(at: str, where: str = "spec.at") -> None:
    fields = at.split()
    if len(fields) != len(CRON_FIELDS):
        raise _bad(
            where, f"{at!r} is not a cron expression of 5 fields (minute hour day month weekday)"
        )
    if not croniter.is_valid(at):
        # Each field alone among stars: the first that fails is the one to name.
        for index, (name, allowed) in enumerate(CRON_FIELDS):
            alone = " ".join(fields[index] if i == index else "*" for i in range(len(fields)))
            if not croniter.is_valid(alone):
                raise _bad(
                    where,
                    f"{at!r}: the {name} field {fields[index]!r} is out of range or malformed "
                    f"({name} is {allowed})",
                )
        raise _bad(where, f"{at!r} is not a valid cron expression")
    try:
        next_tick(at, utcnow())
    except CroniterBadDateError:
        raise _bad(where, f"{at!r} names no day that exists, such as 31 February") from None


def _branch(spec: dict[str, Any], required: bool) -> str:
    reference = spec.get("reference")
    if reference is None:
        if not required and not spec.get("branch"):
            return ""
        return _text(spec, "branch", "spec")
    if not isinstance(reference, dict):
        raise _bad("spec.reference", "must be a map with type and name")
    if reference.get("type") != "BRANCH":
        # a saved schedule runs a branch; a tag can still be given to run_now
        raise _bad("spec.reference.type", "must be BRANCH")
    return _text(reference, "name", "spec.reference")


def _optional_text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise _bad(f"{where}.{key}", "must be a string")
    return value.strip()


def parse_definition(text: str) -> ScheduleDefinition:
    """Raises InvalidInput naming the place and the reason."""
    try:
        data = load(text).data
    except PipelineInvalid as exc:
        raise InvalidInput(FIELD, exc.message) from None
    if not isinstance(data, dict):
        raise _bad("#", "must be a map")
    if data.get("apiVersion") not in API_VERSIONS:
        raise _bad("apiVersion", f"must be one of {', '.join(API_VERSIONS)}")
    if data.get("kind") != "Schedule":
        raise _bad("kind", "must be Schedule")
    metadata, spec = data.get("metadata"), data.get("spec")
    if not isinstance(metadata, dict):
        raise _bad("metadata", "is required and must be a map")
    if not isinstance(spec, dict):
        raise _bad("spec", "is required and must be a map")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise _bad("spec", f"unknown key {sorted(map(str, unknown))[0]!r}")
    recurring = spec.get("recurring", True)
    if not isinstance(recurring, bool):
        raise _bad("spec.recurring", "must be true or false")
    # a task that is not recurring runs only when asked: no cron and no branch needed
    at = _text(spec, "at", "spec") if recurring else _optional_text(spec, "at", "spec")
    if at:
        check_cron(at)
    pipeline_file = _text(spec, "pipeline_file", "spec", DEFAULT_PIPELINE_FILE)
    check_pipeline_file(pipeline_file, f"{FIELD}: spec.pipeline_file")
    paused = spec.get("paused", False)
    if not isinstance(paused, bool):
        raise _bad("spec.paused", "must be true or false")
    name = _text(metadata, "name", "metadata")
    if len(name) > 255:
        raise _bad("metadata.name", "must be at most 255 characters")
    periodic_id = metadata.get("id")
    if periodic_id is not None and not isinstance(periodic_id, str):
        raise _bad("metadata.id", "must be a string")
    return ScheduleDefinition(
        name=name,
        project=_text(spec, "project", "spec"),
        branch=_branch(spec, recurring),
        at=at,
        pipeline_file=pipeline_file,
        paused=paused,
        recurring=recurring,
        description=_optional_text(metadata, "description", "metadata"),
        parameters=parse_parameters(spec.get("parameters"), "spec.parameters", _bad),
        id=(periodic_id or "").strip() or None,
    )
