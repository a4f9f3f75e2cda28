"""Task parameters as Semaphore defines them, and the values one run gets from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from blockpost.errors import InvalidInput
from blockpost.services.secrets import ENV_NAME_RE

MAX_PARAMETERS = 100
Bad = Callable[[str, str], InvalidInput]
KEYS = {"name", "required", "description", "default_value", "options", "value"}


@dataclass(frozen=True)
class Parameter:
    name: str
    required: bool = False
    description: str = ""
    default_value: str = ""
    options: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "required": self.required,
            "description": self.description,
            "default_value": self.default_value,
            "options": list(self.options),
        }


def _scalar(value: Any) -> str | None:
    """YAML reads `default_value: 3` or `true` as non-strings; Semaphore keeps them as text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _parameter(item: Any, where: str, bad: Bad) -> Parameter:
    if not isinstance(item, dict):
        raise bad(where, "must be a map with name and required")
    unknown = sorted(str(key) for key in set(item) - KEYS)
    if unknown:
        # regex_pattern and validate_input_format are Semaphore's too; unchecked they would
        # promise a validation that does not happen
        raise bad(f"{where}.{unknown[0]}", "is not supported")
    name = item.get("name")
    if not isinstance(name, str) or not ENV_NAME_RE.match(name):
        raise bad(f"{where}.name", f"{name!r} is not an environment variable name")
    required = item.get("required", False)
    if not isinstance(required, bool):
        raise bad(f"{where}.required", "must be true or false")
    description = item.get("description", "")
    if not isinstance(description, str):
        raise bad(f"{where}.description", "must be a string")
    # `value` is what blockpost's scheduler YAML called the default before tasks had one
    default = _scalar(item.get("default_value", item.get("value", "")))
    if default is None:
        raise bad(f"{where}.default_value", "must be a string")
    raw_options = item.get("options", [])
    if not isinstance(raw_options, list):
        raise bad(f"{where}.options", "must be a list of strings")
    options = tuple(text for text in map(_scalar, raw_options) if text is not None)
    if len(options) != len(raw_options):
        raise bad(f"{where}.options", "must be a list of strings")
    if default and options and default not in options:
        raise bad(f"{where}.default_value", f"{default!r} is not one of the options")
    return Parameter(name, required, description, default, options)


def parse_parameters(raw: Any, where: str, bad: Bad) -> tuple[Parameter, ...]:
    """The `parameters` list of a task definition; `bad(field, reason)` makes the error."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad(where, "must be a list of {name, required, default_value, options}")
    if len(raw) > MAX_PARAMETERS:
        raise bad(where, f"must have at most {MAX_PARAMETERS} parameters")
    parameters = tuple(_parameter(item, f"{where}.{i}", bad) for i, item in enumerate(raw))
    names = [p.name for p in parameters]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise bad(where, f"{duplicate!r} is defined twice")
    return parameters


def stored(rows: Sequence[Mapping[str, Any]]) -> tuple[Parameter, ...]:
    return tuple(
        Parameter(
            name=row["name"],
            required=bool(row.get("required", False)),
            description=row.get("description", ""),
            default_value=row.get("default_value", ""),
            options=tuple(row.get("options", ())),
        )
        for row in rows
    )


def resolve(
    definitions: Sequence[Parameter], given: Mapping[str, str], field: str = "parameters"
) -> dict[str, str]:
    """The run's values, in definition order: a value given (blank counts as not given),
    else the default; a required one with neither, or a value outside the options, is
    InvalidInput. Values for names the task does not define are passed on as given."""
    for name in given:
        if not ENV_NAME_RE.match(name):
            raise InvalidInput(field, f"{name!r} is not an environment variable name")
    values: dict[str, str] = {}
    for parameter in definitions:
        value = given.get(parameter.name, "").strip() or parameter.default_value
        if not value:
            if parameter.required:
                raise InvalidInput(f"{field}.{parameter.name}", "is required")
            continue
        if parameter.options and value not in parameter.options:
            raise InvalidInput(
                f"{field}.{parameter.name}",
                f"{value!r} is not one of {', '.join(map(repr, parameter.options))}",
            )
        values[parameter.name] = value
    defined = {parameter.name for parameter in definitions}
    values.update((name, value) for name, value in given.items() if name not in defined)
    return values
