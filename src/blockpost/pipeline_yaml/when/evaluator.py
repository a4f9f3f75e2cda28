"""Evaluates parsed `when` conditions against what is known about a pipeline run."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from blockpost.pipeline_yaml.when.lexer import WhenError
from blockpost.pipeline_yaml.when.parser import (
    BoolOp,
    Call,
    CallCompare,
    Compare,
    Expr,
    Keyword,
    Literal,
    parse,
)

ChangeIn = Callable[[list[str], Mapping[str, Any]], bool]


@dataclass(frozen=True)
class WhenContext:
    """Keyword values: only the one for the build's ref type is set (branch, tag or PR)."""

    branch: str = ""
    tag: str = ""
    pull_request: str = ""
    result: str = ""
    result_reason: str = ""
    change_in: ChangeIn | None = None


def evaluate(condition: str | bool | Expr, context: WhenContext) -> bool:
    if isinstance(condition, bool):
        return condition
    expr = parse(condition) if isinstance(condition, str) else condition
    return _eval(expr, context)


def _eval(expr: Expr, context: WhenContext) -> bool:
    if isinstance(expr, BoolOp):
        left = _eval(expr.left, context)
        if expr.op == "and":
            return left and _eval(expr.right, context)
        return left or _eval(expr.right, context)
    if isinstance(expr, Compare):
        return _compare(expr.op, _operand(expr.left, context), _operand(expr.right, context), expr)
    if isinstance(expr, Call):
        return _call(expr, context)
    if isinstance(expr, CallCompare):
        return _compare(expr.op, _call(expr.call, context), _eval(expr.right, context), expr)
    if isinstance(expr.value, bool):
        return expr.value
    raise WhenError(f"{expr} is not a condition")


def _operand(side: Keyword | Literal, context: WhenContext) -> str:
    if isinstance(side, Keyword):
        value: str = getattr(context, side.name)
        return value
    return str(side.value)


def _compare(op: str, left: Any, right: Any, expr: Compare | CallCompare) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if not (isinstance(left, str) and isinstance(right, str)):
        raise WhenError(f"{op} needs text on both sides in {expr}")
    # The quoted string is the pattern: `branch =~ '^dev/'` and `'^dev/' =~ branch` agree.
    if (
        isinstance(expr, Compare)
        and isinstance(expr.left, Literal)
        and isinstance(expr.right, Keyword)
    ):
        left, right = right, left
    found = re.search(right, left) is not None
    return found if op == "=~" else not found


def _call(call: Call, context: WhenContext) -> bool:
    if context.change_in is None:
        raise WhenError("change_in needs the commits of the run, which are not known here")
    patterns = call.args[0] if isinstance(call.args[0], list) else [call.args[0]]
    options = call.args[1] if len(call.args) > 1 else {}
    return context.change_in(patterns, options)
