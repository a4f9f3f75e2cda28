"""Text a database column can hold: PostgreSQL takes neither NUL nor a lone surrogate (which
a JSON `\\udXXX` escape without its pair decodes to). Requests carrying them are refused,
naming where; job output carrying them is kept with U+FFFD in their place."""

from __future__ import annotations

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
