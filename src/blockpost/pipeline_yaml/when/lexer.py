"""Tokens of the `when` language, each with its 1-based column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

KEYWORDS = frozenset(
    {"branch", "tag", "pull_request", "result", "result_reason"}
    | {"BRANCH", "TAG", "PULL_REQUEST", "RESULT", "RESULT_REASON"}
)
BOOL_OPERATORS = frozenset({"and", "AND", "or", "OR"})
BOOLEANS = {"true": True, "TRUE": True, "false": False, "FALSE": False}


class WhenError(ValueError):
    """A condition that cannot be parsed or evaluated; `column` is 1-based when known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(f"{message} at column {column}" if column else message)
        self.column = column


class Kind(Enum):
    KEYWORD = "keyword"
    OPERATOR = "operator"
    BOOL_OPERATOR = "and/or"
    STRING = "string"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    FLOAT = "float"
    IDENTIFIER = "identifier"
    MAP_KEY = "map key"
    PUNCT = "punctuation"
    END = "end of condition"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    column: int

    def describe(self) -> str:
        return "end of condition" if self.kind is Kind.END else repr(self.text)


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'[^']*'?)
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<word>[A-Za-z][A-Za-z0-9_\-]*:?)
  | (?P<operator>=~|!~|!=|=)
  | (?P<punct>[()\[\]{},])
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        column = position + 1
        if match is None:
            hint = " (strings take single quotes)" if text[position] == '"' else ""
            raise WhenError(f"unexpected character {text[position]!r}{hint}", column)
        position = match.end()
        kind = match.lastgroup
        value = match.group()
        if kind == "space":
            continue
        if kind == "string":
            if len(value) < 2 or not value.endswith("'"):
                raise WhenError("unterminated string", column)
            if value == "''":
                raise WhenError("empty string '' is not allowed", column)
            tokens.append(Token(Kind.STRING, value[1:-1], column))
        elif kind == "number":
            tokens.append(Token(Kind.FLOAT if "." in value else Kind.INTEGER, value, column))
        elif kind == "word":
            tokens.append(Token(_word_kind(value), value, column))
        elif kind == "operator":
            tokens.append(Token(Kind.OPERATOR, value, column))
        else:
            tokens.append(Token(Kind.PUNCT, value, column))
    tokens.append(Token(Kind.END, "", len(text) + 1))
    return tokens


def _word_kind(word: str) -> Kind:
    if word.endswith(":"):
        return Kind.MAP_KEY
    if word in KEYWORDS:
        return Kind.KEYWORD
    if word in BOOL_OPERATORS:
        return Kind.BOOL_OPERATOR
    if word in BOOLEANS:
        return Kind.BOOLEAN
    return Kind.IDENTIFIER
