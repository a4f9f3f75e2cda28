"""Request values the database and the server can hold: text, integers, nested JSON.

Text: PostgreSQL takes neither NUL nor a lone surrogate (which a JSON `\\udXXX` escape without
its pair decodes to). Requests carrying them are refused, naming where; job output carrying
them is kept with U+FFFD in their place."""

from __future__ import annotations

import itertools
import re
from typing import Any

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# How either is spelled in JSON text: cheap to look for before parsing anything.
ESCAPE = r"\\u(?:0000|d[89a-f][0-9a-f]{2})"
ESCAPE_TEXT = re.compile(ESCAPE, re.IGNORECASE)
ESCAPE_BYTES = re.compile(ESCAPE.encode(), re.IGNORECASE)
REASON = "must not contain NUL characters or unpaired surrogates"


def escaped_in(json_text: str | bytes | bytearray) -> bool:
    if isinstance(json_text, str):
        return ESCAPE_TEXT.search(json_text) is not None
    return ESCAPE_BYTES.search(json_text) is not None


def first_unstorable(node: Any, path: str = "") -> str | None:
    """The dotted path of the first key or string in a JSON document that holds one."""
    if isinstance(node, str):
        return (path or "body") if UNSTORABLE.search(node) else None
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return None
    for key, value in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and UNSTORABLE.search(key):
            return UNSTORABLE.sub("?", where)
        if (found := first_unstorable(value, where)) is not None:
            return found
    return None


def storable(node: Any) -> Any:
    """The JSON document with each such character replaced by U+FFFD."""
    if isinstance(node, str):
        return UNSTORABLE.sub("\ufffd", node)
    if isinstance(node, dict):
        return {storable(key): storable(value) for key, value in node.items()}
    if isinstance(node, list):
        return [storable(item) for item in node]
    return node


# Every integer column is PostgreSQL's int4 (SQLite's hold 64 bits): a larger number from a
# request would reach the database as an overflow error.
INT_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def ascii_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() is also true for "²" and "١٢", which int() reads as numbers."""
    return text.isascii() and text.isdigit()


def whole_number(text: str, maximum: int = INT_MAX) -> int | None:
    """`text` as an integer from 0 to `maximum`, if it is one written in ASCII digits (int()
    also takes " 7" and "1_000", and raises ValueError past 4,300 digits)."""
    if not ascii_digits(text) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None


# Parsing JSON and every walk over the result recurse: nesting is bounded before either runs.
MAX_JSON_DEPTH = 32
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')


def json_too_deep(json_text: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON parser would go more than `limit` arrays and objects deep.

    In C-speed passes over the text, as it may be megabytes long."""
    if json_text.count(b"[") + json_text.count(b"{") <= limit:
        return False  # the usual case: too few brackets to nest that deep
    # Escaped backslashes and quotes out, then all but brackets and quotes: each string is
    # left as its quotes around its brackets. Two quotes side by side are an empty string or
    # two strings with nothing structural between them, so dropping them changes no depth.
    steps = (
        json_text.replace(b"\\\\", b"")
        .replace(b'\\"', b"")
        .translate(_STEPS, _NOT_STRUCTURE)
        .replace(b'""', b"")
    )
    if b'"' in steps:
        steps = b"".join(steps.split(b'"')[::2])  # what lies outside strings
    if b"\x01" * (limit + 1) in steps:
        return True
    return max(itertools.accumulate(memoryview(steps).cast("b")), default=0) > limit
