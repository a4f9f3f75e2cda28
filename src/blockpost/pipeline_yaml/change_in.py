"""`change_in(patterns, options)`: its options as Semaphore's compiler reads them, the
commit range they name, and whether a set of changed files satisfies them.

The engine resolves the range in git; this module only reads text and matches paths.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The placeholders Semaphore's compiler replaces in branch_range and default_range.
COMMIT_RANGE = "$SEMAPHORE_GIT_COMMIT_RANGE"
MERGE_BASE = "$SEMAPHORE_MERGE_BASE"
GIT_SHA = "$SEMAPHORE_GIT_SHA"
IMPLICIT_BRANCH_RANGE = f"{MERGE_BASE}...{GIT_SHA}"
# One side of a range: a branch, tag, sha or placeholder with ~ ^ @{…} suffixes. No
# leading '-' (git would read an option) and nothing a shell or pathspec could use.
_REVISION = re.compile(r"(?!-)[A-Za-z0-9_./@{}~^$+-]{1,250}")
_HEAD = re.compile(r"^HEAD(?=[~^]|$)")


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


@dataclass(frozen=True)
class Revisions:
    """A commit range: `three_dots` compares `head` with its merge base with `base`."""

    base: str
    head: str
    three_dots: bool


def split_range(text: str, option: str) -> tuple[str, str | None, bool]:
    """`a...b`, `a..b` or a lone `a` (git diff compares it with the checkout)."""
    three = "..." in text
    sides = text.split("..." if three else "..", 1) if ".." in text else [text]
    if len(sides) == 2 and ".." in sides[1]:
        sides = []
    if not sides or not all(_REVISION.fullmatch(side) for side in sides):
        raise ValueError(
            f"change_in option {option!r} must be a commit range such as "
            f"'master...{GIT_SHA}', not {text!r}"
        )
    return sides[0], sides[1] if len(sides) == 2 else None, three


def _strings(value: Any, what: str) -> tuple[str, ...]:
    """Semaphore's compiler takes one string where a list of strings is expected."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError(f"{what} must be a string or a list of strings")


def _text(options: Mapping[str, Any], key: str) -> str:
    value = options.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"change_in option {key!r} must be a string")
    return value


@dataclass(frozen=True)
class ChangeIn:
    """One call, its options read with Semaphore's defaults (unknown options are ignored,
    as Semaphore's compiler ignores them)."""

    patterns: tuple[str, ...]
    exclude: tuple[str, ...]
    track_pipeline_file: bool
    default_branch: str
    default_range: str  # "" is the run's own commit range
    branch_range: str
    on_tags: bool

    @classmethod
    def of(
        cls, patterns: Any, options: Mapping[str, Any], *, in_promotion: bool = False
    ) -> ChangeIn:
        """Raises ValueError naming the argument; a promotion's condition ignores changes
        to the pipeline file unless it says `pipeline_file: 'track'`, as Semaphore's does."""
        pipeline_file = options.get("pipeline_file", "ignore" if in_promotion else "track")
        if pipeline_file not in {"track", "ignore"}:
            raise ValueError("change_in option 'pipeline_file' must be 'track' or 'ignore'")
        on_tags = options.get("on_tags", True)
        if not isinstance(on_tags, bool):
            raise ValueError("change_in option 'on_tags' must be true or false")
        default_branch = _text(options, "default_branch") or "master"
        if not _REVISION.fullmatch(default_branch) or ".." in default_branch:
            raise ValueError(f"change_in option 'default_branch' {default_branch!r} is no branch")
        ranges = {key: _text(options, key) for key in ("default_range", "branch_range")}
        for key, text in ranges.items():
            if text and text != COMMIT_RANGE:
                split_range(text, key)
        return cls(
            patterns=_strings(patterns, "change_in patterns"),
            exclude=_strings(options.get("exclude", []), "change_in option 'exclude'"),
            track_pipeline_file=pipeline_file == "track",
            default_branch=default_branch,
            default_range=ranges["default_range"],
            branch_range=ranges["branch_range"] or IMPLICIT_BRANCH_RANGE,
            on_tags=on_tags,
        )

    def revisions(
        self, *, on_default_branch: bool, pull_request: bool, sha: str, own_range: str
    ) -> Revisions | None:
        """The range to diff: `default_range` on the default branch, `branch_range` on
        others, the default branch's merge base for a pull request. `own_range` is the
        run's commit range (`parent...sha`, "" for a first commit); None when a range needs
        it and there is none, so there is nothing to compare with."""
        if pull_request:
            text = IMPLICIT_BRANCH_RANGE
        elif on_default_branch:
            text = self.default_range or COMMIT_RANGE
        else:
            text = self.branch_range
        if text == COMMIT_RANGE:
            if not own_range:
                return None
            text = own_range
        base, head, three = split_range(self._filled(text, sha), "range")
        return Revisions(base, head or sha, three)

    def _filled(self, text: str, sha: str) -> str:
        text = text.replace(MERGE_BASE, f"refs/heads/{self.default_branch}")
        text = text.replace(GIT_SHA, sha)
        # the job's checkout is the run's commit: that is what HEAD names in a range
        sides = re.split(r"(\.\.\.?)", text)
        return "".join(_HEAD.sub(sha, side) for side in sides)

    def matches(self, changed_files: Iterable[str], pipeline_file: str) -> bool:
        """Exclusions win, even over the tracked pipeline file, as in Semaphore."""
        excluded = [resolve(p, pipeline_file) for p in self.exclude]
        wanted = [resolve(p, pipeline_file) for p in self.patterns]
        return any(
            (self.track_pipeline_file and path == pipeline_file)
            or any(matches(pattern, path) for pattern in wanted)
            for path in changed_files
            if not any(matches(pattern, path) for pattern in excluded)
        )


def change_in_call(args: Sequence[Any]) -> tuple[Any, Mapping[str, Any]]:
    """The patterns and options of a call's arguments; ValueError for a wrong count or
    options that are not a map."""
    if not 1 <= len(args) <= 2:
        raise ValueError("change_in takes a pattern (or list of patterns) and options")
    options = args[1] if len(args) == 2 else {}
    if not isinstance(options, dict):
        raise ValueError("change_in options must be a map such as {exclude: ['/docs']}")
    return args[0], options
