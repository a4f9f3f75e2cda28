"""Parses `when` conditions into a small tree, following Semaphore's grammar.

`and` and `or` have equal precedence and group left to right, as Semaphore's own parser
does: `a or b and c` is `(a or b) and c`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from blockpost.pipeline_yaml.change_in import ChangeIn, change_in_call
from blockpost.pipeline_yaml.when.lexer import BOOLEANS, Kind, Token, WhenError, tokenize

MAX_NESTING = 50
# The tree is as deep as the condition is long (`a and b and c` is ((a and b) and c)), and
# checking and evaluating it recurse: a bound well inside Python's stack.
MAX_TERMS = 100
MAX_DIGITS = 20


@dataclass(frozen=True)
class Keyword:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Literal:
    value: Any

    def __str__(self) -> str:
        if isinstance(self.value, str):
            return f"'{self.value}'"
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return repr(self.value)


@dataclass(frozen=True)
class Compare:
    op: str
    left: Keyword | Literal
    right: Keyword | Literal

    def __str__(self) -> str:
        return f"({self.op} {self.left} {self.right})"


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"({self.name} {' '.join(repr(a) for a in self.args)})".replace(" )", ")")


@dataclass(frozen=True)
class CallCompare:
    op: str
    call: Call
    right: Expr

    def __str__(self) -> str:
        return f"({self.op} {self.call} {self.right})"


@dataclass(frozen=True)
class BoolOp:
    op: str
    left: Expr
    right: Expr

    def __str__(self) -> str:
        return f"({self.op} {self.left} {self.right})"


Expr = BoolOp | Compare | Call | CallCompare | Literal


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.terms = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, kind: Kind, text: str | None = None, wanted: str | None = None) -> Token:
        token = self.peek()
        if token.kind is not kind or (text is not None and token.text != text):
            raise WhenError(
                f"expected {wanted or text or kind.value}, found {token.describe()}", token.column
            )
        return self.take()

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise WhenError(f"nested deeper than {MAX_NESTING} levels", self.peek().column)

    def expression(self) -> Expr:
        self.nest()
        left = self.term()
        while self.peek().kind is Kind.BOOL_OPERATOR:
            op = self.take().text.lower()
            left = BoolOp(op, left, self.term())
        self.depth -= 1
        return left

    def term(self) -> Expr:
        token = self.peek()
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise WhenError(f"more than {MAX_TERMS} conditions in one expression", token.column)
        if token.kind is Kind.PUNCT and token.text == "(":
            self.take()
            inner = self.expression()
            self.expect(Kind.PUNCT, ")", "')'")
            return inner
        if token.kind is Kind.KEYWORD:
            keyword = Keyword(self.take().text.lower())
            op = self.expect(Kind.OPERATOR, wanted="an operator (=, !=, =~, !~)")
            value = self.expect(Kind.STRING, wanted="a quoted string such as 'main'")
            return self.compare(op, keyword, Literal(value.text), value)
        if token.kind is Kind.STRING and self.peek(1).kind is Kind.OPERATOR:
            left = Literal(self.take().text)
            op = self.take()
            right = self.peek()
            if right.kind is Kind.KEYWORD:
                self.take()
                return self.compare(op, left, Keyword(right.text.lower()), token)
            self.expect(Kind.STRING, wanted="a keyword or a quoted string")
            return self.compare(op, left, Literal(right.text), right)
        if token.kind is Kind.IDENTIFIER:
            call = self.call()
            if self.peek().kind is Kind.OPERATOR:
                op = self.take().text
                return CallCompare(op, call, self.term())
            return call
        if token.kind is Kind.BOOLEAN:
            return Literal(BOOLEANS[self.take().text])
        if token.kind in {Kind.STRING, Kind.INTEGER, Kind.FLOAT} or token.text in {"[", "{"}:
            raise WhenError(
                f"expected a condition, found the value {token.describe()} "
                "(compare it with a keyword, e.g. branch = 'main')",
                token.column,
            )
        raise WhenError(f"expected a condition, found {token.describe()}", token.column)

    def compare(
        self, op: Token, left: Keyword | Literal, right: Keyword | Literal, at: Token
    ) -> Compare:
        if op.text in {"=~", "!~"}:
            pattern = right if isinstance(right, Literal) else left
            try:
                re.compile(str(pattern.value))
            except re.error as exc:
                raise WhenError(f"invalid regular expression: {exc}", at.column) from None
            except (RecursionError, OverflowError):  # groups nested thousands deep, a{9**99}
                raise WhenError("regular expression too large", at.column) from None
        return Compare(op.text, left, right)

    def call(self) -> Call:
        name = self.take()
        self.expect(Kind.PUNCT, "(", f"'(' after {name.text!r}")
        args: list[Any] = []
        if not (self.peek().kind is Kind.PUNCT and self.peek().text == ")"):
            args.append(self.value())
            while self.peek().kind is Kind.PUNCT and self.peek().text == ",":
                self.take()
                args.append(self.value())
        self.expect(Kind.PUNCT, ")", "')' or ','")
        _check_call(name, args)
        return Call(name.text, tuple(args))

    def value(self) -> Any:
        token = self.take()
        if token.kind is Kind.STRING:
            return token.text
        if token.kind is Kind.BOOLEAN:
            return BOOLEANS[token.text]
        if token.kind is Kind.INTEGER:
            if len(token.text) > MAX_DIGITS:  # int() refuses 4,300 digits; none is valid anyway
                raise WhenError(f"number longer than {MAX_DIGITS} digits", token.column)
            return int(token.text)
        if token.kind is Kind.FLOAT:
            return float(token.text)
        if token.kind is Kind.PUNCT and token.text == "[":
            self.nest()
            items: list[Any] = []
            if not (self.peek().kind is Kind.PUNCT and self.peek().text == "]"):
                items.append(self.value())
                while self.peek().kind is Kind.PUNCT and self.peek().text == ",":
                    self.take()
                    items.append(self.value())
            self.expect(Kind.PUNCT, "]", "']' or ','")
            self.depth -= 1
            return items
        if token.kind is Kind.PUNCT and token.text == "{":
            self.nest()
            entries: dict[str, Any] = {}
            if not (self.peek().kind is Kind.PUNCT and self.peek().text == "}"):
                while True:
                    key = self.expect(Kind.MAP_KEY, wanted="a key such as exclude:")
                    entries[key.text[:-1]] = self.value()
                    if not (self.peek().kind is Kind.PUNCT and self.peek().text == ","):
                        break
                    self.take()
            self.expect(Kind.PUNCT, "}", "'}' or ','")
            self.depth -= 1
            return entries
        raise WhenError(f"expected a value, found {token.describe()}", token.column)


def _check_call(name: Token, args: list[Any]) -> None:
    if name.text != "change_in":
        raise WhenError(f"unknown function {name.text!r} (only change_in is known)", name.column)
    try:
        ChangeIn.of(*change_in_call(args))
    except ValueError as exc:
        raise WhenError(str(exc), name.column) from None


def parse(text: str) -> Expr:
    """Parses a condition; raises WhenError with the column of the first problem."""
    parser = _Parser(tokenize(text))
    if parser.peek().kind is Kind.END:
        raise WhenError("empty condition", 1)
    expr = parser.expression()
    if parser.peek().kind is not Kind.END:
        token = parser.peek()
        raise WhenError(f"expected 'and', 'or' or the end, found {token.describe()}", token.column)
    return expr


def keywords_in(expr: Expr) -> set[str]:
    """The keywords a condition reads, e.g. {"branch", "result"}."""
    if isinstance(expr, BoolOp):
        return keywords_in(expr.left) | keywords_in(expr.right)
    if isinstance(expr, Compare):
        return {side.name for side in (expr.left, expr.right) if isinstance(side, Keyword)}
    if isinstance(expr, CallCompare):
        return keywords_in(expr.right)
    return set()
