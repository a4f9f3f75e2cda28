"""`${{parameters.X}}` / `%{{parameters.X | filter}}` expressions inside pipeline values."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from blockpost import storable

EXPRESSION = re.compile(r"[$%]\{\{(.*?)\}\}", re.S)
WHOLE = re.compile(r"^\s*[$%]\{\{(.*)\}\}\s*$", re.S)
SIGNED = re.compile(r"([+-]?)([0-9]+)")
PLACEHOLDER = "parameter"


class ParameterError(ValueError):
    pass


def int64(text: str) -> int | None:
    """`text` as Go's strconv.ParseInt reads it: a sign, ASCII digits, 64 bits (and, here,
    space around it, which a parameter typed into a form often has)."""
    match = SIGNED.fullmatch(text.strip())
    if match is None:
        return None
    magnitude = storable.whole_number(match.group(2), storable.INT64_MAX)
    if magnitude is None:
        return None
    return -magnitude if match.group(1) == "-" else magnitude


def has_expression(text: str) -> bool:
    return EXPRESSION.search(text) is not None


def _resolve(body: str, values: Mapping[str, str]) -> str | list[str] | int:
    stages = [stage.strip() for stage in body.split("|")]
    source = stages[0]
    if not source.startswith("parameters."):
        raise ParameterError(f"{source!r} is not a parameter (write parameters.NAME)")
    result: str | list[str] | int = values.get(source.removeprefix("parameters."), "")
    for stage in stages[1:]:
        try:
            name, *args = shlex.split(stage)
        except ValueError:  # an unclosed quote, or nothing at all
            raise ParameterError(f"cannot read the expression step {stage!r}") from None
        if name == "splitList" and len(args) == 1 and isinstance(result, str):
            result = [] if result == "" else result.split(args[0])
        elif name == "int64" and not args and isinstance(result, str):
            number = int64(result)
            if number is None:
                raise ParameterError(f"{result!r} is not a 64-bit integer")
            result = number
        else:
            raise ParameterError(f"unsupported expression step {stage!r}")
    return result


def substitute(text: str, values: Mapping[str, str] | None) -> str:
    """Replaces every expression with its text value; with no values, with a placeholder."""
    if values is None:
        return EXPRESSION.sub(PLACEHOLDER, text)
    return EXPRESSION.sub(lambda match: str(_resolve(match.group(1), values)), text)


def evaluate_whole(text: str, values: Mapping[str, str]) -> str | list[str] | int:
    """A value that is one expression (matrix `values`, `parallelism`) keeps its type."""
    match = WHOLE.match(text)
    if match is None:
        raise ParameterError(f"{text!r} is not a single ${{{{ }}}} expression")
    return _resolve(match.group(1), values)
