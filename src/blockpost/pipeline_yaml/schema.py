"""A small declarative schema checker: every violation becomes a YamlError at its path.

Messages follow the wording Semaphore's validator uses (ExJsonSchema's) where it has one,
and name the keys involved where its generic text would not help.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from blockpost.pipeline_yaml.errors import Path

Report = Callable[[Path, str], None]


_TYPE_NAMES: dict[type, str] = {
    type(None): "Null",
    bool: "Boolean",
    int: "Integer",
    float: "Number",
    str: "String",
    list: "Array",
    dict: "Object",
}


def type_name(value: Any) -> str:
    # Exact types only: YAML loaders produce no subclasses, and bool must not count as int.
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _quoted(keys: Sequence[str], joiner: str) -> str:
    quoted = [f"'{key}'" for key in keys]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" {joiner} {quoted[-1]}"


class Spec:
    """One node of the schema; `type` is the JSON type it accepts (for unions)."""

    type: str = ""

    def check(self, value: Any, path: Path, report: Report) -> None:
        raise NotImplementedError

    def __or__(self, other: Spec) -> Spec:
        return Union((self, other))

    def _typed(self, value: Any, path: Path, report: Report) -> bool:
        kind = type_name(value)
        if kind == self.type:
            return True
        report(path, f"Type mismatch. Expected {self.type} but got {kind}.")
        return False


@dataclass
class Str(Spec):
    min_length: int = 0
    enum: tuple[str, ...] = ()
    type: str = "String"

    def check(self, value: Any, path: Path, report: Report) -> None:
        if type(value) is not str and not self._typed(value, path, report):
            return
        if len(value) < self.min_length:
            minimum, actual = self.min_length, len(value)
            report(path, f"Expected value to have a minimum length of {minimum} but was {actual}.")
        elif self.enum and value not in self.enum:
            report(
                path, f'Value "{value}" is not allowed in enum (allowed: {", ".join(self.enum)}).'
            )


@dataclass
class Int(Spec):
    minimum: int | None = None
    maximum: int | None = None
    type: str = "Integer"

    def check(self, value: Any, path: Path, report: Report) -> None:
        if not self._typed(value, path, report):
            return
        if self.minimum is not None and value < self.minimum:
            report(path, f"Expected the value to be >= {self.minimum}")
        elif self.maximum is not None and value > self.maximum:
            report(path, f"Expected the value to be <= {self.maximum}")


@dataclass
class Bool(Spec):
    type: str = "Boolean"

    def check(self, value: Any, path: Path, report: Report) -> None:
        self._typed(value, path, report)


@dataclass
class Arr(Spec):
    items: Spec
    min_items: int = 0
    max_items: int | None = None
    type: str = "Array"

    def check(self, value: Any, path: Path, report: Report) -> None:
        if not self._typed(value, path, report):
            return
        if len(value) < self.min_items:
            report(path, f"Expected a minimum of {self.min_items} items but got {len(value)}.")
        if self.max_items is not None and len(value) > self.max_items:
            report(path, f"Expected a maximum of {self.max_items} items but got {len(value)}.")
            return
        items = self.items
        plain_strings = isinstance(items, Str) and not items.min_length and not items.enum
        for index, item in enumerate(value):
            # Command lists are the bulk of a big file: skip the call for the usual case.
            if not (plain_strings and type(item) is str):
                items.check(item, (*path, index), report)


@dataclass
class Obj(Spec):
    """An object with known keys; rules name key groups: exactly_one=[("task", "task_file")]."""

    properties: dict[str, Spec]
    required: tuple[str, ...] = ()
    exactly_one: Sequence[tuple[str, ...]] = ()
    at_least_one: Sequence[tuple[str, ...]] = ()
    exclusive: Sequence[tuple[str, ...]] = ()
    type: str = "Object"

    def check(self, value: Any, path: Path, report: Report) -> None:
        if type(value) is not dict and not self._typed(value, path, report):
            return
        if self.required or self.exactly_one or self.at_least_one or self.exclusive:
            self._check_groups(value, path, report)
        properties = self.properties
        for key, item in value.items():
            spec = properties.get(key)
            if spec is None:
                close = difflib.get_close_matches(str(key), list(properties), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                report(
                    (*path, key),
                    f"Schema does not allow additional properties: '{key}' is not a known key."
                    + hint,
                )
            else:
                spec.check(item, (*path, key), report)

    def _check_groups(self, value: dict[str, Any], path: Path, report: Report) -> None:
        for key in self.required:
            if key not in value:
                report(path, f"Required property {key} was not present.")
        for group in self.exactly_one:
            present = [key for key in group if key in value]
            if not present:
                report(path, f"Exactly one of {_quoted(group, 'or')} is required.")
            elif len(present) > 1:
                report(path, f"Only one of {_quoted(present, 'and')} may be given.")
        for group in self.at_least_one:
            if not any(key in value for key in group):
                report(path, f"At least one of {_quoted(group, 'or')} is required.")
        for group in self.exclusive:
            present = [key for key in group if key in value]
            if len(present) > 1:
                report(path, f"{_quoted(present, 'and')} cannot be used together.")


@dataclass
class Union(Spec):
    """Alternatives told apart by JSON type (e.g. a string or a boolean)."""

    options: tuple[Spec, ...]

    def __or__(self, other: Spec) -> Spec:
        return Union((*self.options, other))

    def check(self, value: Any, path: Path, report: Report) -> None:
        kind = type_name(value)
        for option in self.options:
            if option.type == kind:
                option.check(value, path, report)
                return
        wanted = " or ".join(dict.fromkeys(option.type for option in self.options))
        report(path, f"Type mismatch. Expected {wanted} but got {kind}.")


@dataclass
class ByKeys(Spec):
    """Two object shapes told apart by which keys are present (e.g. legacy vs conditional)."""

    when_any_of: tuple[str, ...]
    then: Spec
    otherwise: Spec
    type: str = "Object"

    def check(self, value: Any, path: Path, report: Report) -> None:
        if not self._typed(value, path, report):
            return
        chosen = self.then if any(key in value for key in self.when_any_of) else self.otherwise
        chosen.check(value, path, report)
