"""The scheduler YAML (`apiVersion: v1.0`, `kind: Schedule`), checked into a definition."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from croniter import CroniterBadDateError, croniter

from blockpost.errors import InvalidInput
from blockpost.pipeline_yaml import PipelineInvalid
from blockpost.pipeline_yaml.loader import load
from blockpost.services.projects import check_pipeline_file
from blockpost.timefmt import utcnow

FIELD = "yml_definition"
DEFAULT_PIPELINE_FILE = ".semaphore/semaphore.yml"
ENV_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class ScheduleDefinition:
    name: str
    project: str
    branch: str
    at: str
    pipeline_file: str = DEFAULT_PIPELINE_FILE
    paused: bool = False
    parameters: dict[str, str] = field(default_factory=dict)


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


def check_cron(at: str, where: str = "spec.at") -> None:
    if not croniter.is_valid(at) or len(at.split()) != 5:
        raise _bad(
            where, f"{at!r} is not a cron expression of 5 fields (minute hour day month weekday)"
        )
    try:
        next_tick(at, utcnow())
    except CroniterBadDateError:
        raise _bad(where, f"{at!r} names no day that exists, such as 31 February") from None


def _parameters(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _bad("spec.parameters", "must be a list of {name, value}")
    values = {}
    for index, item in enumerate(raw):
        where = f"spec.parameters.{index}"
        if not isinstance(item, dict):
            raise _bad(where, "must be a map with name and value")
        name = _text(item, "name", where)
        if not set(name) <= ENV_NAME_CHARS or name[0].isdigit():
            raise _bad(f"{where}.name", f"{name!r} is not an environment variable name")
        value = item.get("value", item.get("default_value", ""))
        if not isinstance(value, str | int | float | bool):
            raise _bad(f"{where}.value", "must be a string")
        values[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def parse_definition(text: str) -> ScheduleDefinition:
    """Raises InvalidInput naming the place and the reason."""
    try:
        data = load(text).data
    except PipelineInvalid as exc:
        raise InvalidInput(FIELD, exc.message) from None
    if not isinstance(data, dict):
        raise _bad("#", "must be a map")
    if data.get("apiVersion") != "v1.0":
        raise _bad("apiVersion", "must be v1.0")
    if data.get("kind") != "Schedule":
        raise _bad("kind", "must be Schedule")
    metadata, spec = data.get("metadata"), data.get("spec")
    if not isinstance(metadata, dict):
        raise _bad("metadata", "is required and must be a map")
    if not isinstance(spec, dict):
        raise _bad("spec", "is required and must be a map")
    unknown = set(spec) - {"project", "branch", "at", "pipeline_file", "paused", "parameters"}
    if unknown:
        raise _bad("spec", f"unknown key {sorted(map(str, unknown))[0]!r}")
    at = _text(spec, "at", "spec")
    check_cron(at)
    pipeline_file = _text(spec, "pipeline_file", "spec", DEFAULT_PIPELINE_FILE)
    check_pipeline_file(pipeline_file, f"{FIELD}: spec.pipeline_file")
    paused = spec.get("paused", False)
    if not isinstance(paused, bool):
        raise _bad("spec.paused", "must be true or false")
    name = _text(metadata, "name", "metadata")
    if len(name) > 255:
        raise _bad("metadata.name", "must be at most 255 characters")
    return ScheduleDefinition(
        name=name,
        project=_text(spec, "project", "spec"),
        branch=_text(spec, "branch", "spec"),
        at=at,
        pipeline_file=pipeline_file,
        paused=paused,
        parameters=_parameters(spec.get("parameters")),
    )
