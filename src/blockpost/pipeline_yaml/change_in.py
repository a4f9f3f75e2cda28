"""Does a set of changed files satisfy `change_in(patterns, options)`?

The engine decides which commits to compare (branch_range, default_range, on_tags);
this module only matches paths.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any


def resolve(pattern: str, pipeline_file: str) -> str:
    """`/lib` is from the repository root; `lib` and `../lib` from the pipeline file's folder."""
    if pattern.startswith("/"):
        return pattern.lstrip("/")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(pipeline_file), pattern))
    return "" if joined == "." else joined


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*/?|\*|\?)", pattern.rstrip("/"))
    body = ""
    for part in parts:
        if part in {"**", "**/"}:
            body += ".*"
        elif part == "*":
            body += "[^/]*"
        elif part == "?":
            body += "[^/]"
        else:
            body += re.escape(part)
    # A directory pattern covers everything below it.
    return re.compile(rf"^{body}(?:/.*)?$" if body else r"^.*$")


def matches(pattern: str, path: str) -> bool:
    return _compiled(pattern).match(path) is not None


def change_in_matches(
    patterns: Sequence[str],
    options: Mapping[str, Any],
    *,
    changed_files: Iterable[str],
    pipeline_file: str,
) -> bool:
    files = list(changed_files)
    if options.get("pipeline_file", "track") == "track" and pipeline_file in files:
        return True
    excluded = [resolve(p, pipeline_file) for p in options.get("exclude", ())]
    wanted = [resolve(p, pipeline_file) for p in patterns]
    return any(
        any(matches(pattern, path) for pattern in wanted)
        for path in files
        if not any(matches(pattern, path) for pattern in excluded)
    )
