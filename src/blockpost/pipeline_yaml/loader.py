"""Safe YAML loading: the data from yaml-rs (fast, with alias and depth limits), and the line
of any path from PyYAML, composed only when an error has to say where it is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml_rs
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, SequenceNode

from blockpost.pipeline_yaml.errors import Path, PipelineInvalid, YamlError, pointer

MAX_BYTES = 4 * 1024 * 1024
# Enough for 300 blocks x 50 jobs many times over; alias bombs blow far past it.
MAX_NODES = 1_000_000
MAX_DEPTH = 256  # yaml-rs refuses deeper flow nesting ([[[...); the rest is checked here
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# yaml-rs recurses through the document and overflows the C stack, killing the process, past
# about ten thousand levels (fewer on a smaller stack). A block collection indents further
# than its parent, so block nesting is no deeper than the longest line is long; yaml-rs
# bounds flow nesting; aliases multiply depth. A text that might go past SAFE_DEPTH is
# measured first by libyaml, whose parser keeps its own stack.
SAFE_DEPTH = 1000
_ANCHOR = re.compile(r"&([^\s\[\]{},]+)")
_ALIAS = re.compile(r"\*([^\s\[\]{},]+)")
_ALIAS_LIMITS = yaml_rs.AliasLimits(max_total_replayed_events=MAX_NODES, max_replay_stack_depth=64)
_POSITION = re.compile(r"line (\d+)(?:, column (\d+))?")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Loaded:
    text: str
    data: Any
    _lines: dict[Path, int] | None = field(default=None, repr=False)

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        if self._lines is None:
            self._lines = line_map(self.text)
        while True:
            found = self._lines.get(path)
            if found is not None or not path:
                return found
            path = path[:-1]


def line_map(text: str) -> dict[Path, int]:
    """Path -> 1-based line of every value (a mapping value: the line of its key)."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except (yaml.YAMLError, RecursionError):
        return {}
    lines: dict[Path, int] = {}
    pending: list[tuple[Node, Path, int]] = [(root, (), root.start_mark.line + 1)] if root else []
    while pending and len(lines) < MAX_NODES:
        node, path, line = pending.pop()
        if path in lines or len(path) > MAX_DEPTH:
            continue
        lines[path] = line
        if isinstance(node, MappingNode):
            for key, value in node.value:
                pending.append((value, (*path, str(key.value)), key.start_mark.line + 1))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                pending.append((item, (*path, index), item.start_mark.line + 1))
    return lines


def _syntax_error(exc: yaml_rs.YAMLDecodeError, source: str) -> PipelineInvalid:
    text = str(exc)
    reason = text.strip().splitlines()[-1]
    if "alias" in text and "limit" in text:
        reason = f"document expands to more than {MAX_NODES} values through aliases"
    position = _POSITION.search(text)
    line = int(position.group(1)) if position else _line_of_quoted(reason, source)
    if "recursion limit" in text:
        return _too_deep(line)
    column = f" (column {position.group(2)})" if position and position.group(2) else ""
    return PipelineInvalid([YamlError("#", f"YAML syntax error: {reason}{column}", line)])


def _line_of_quoted(reason: str, source: str) -> int | None:
    """Some errors (e.g. "Invalid tag: '!!x'") carry no position: find what they quote."""
    quoted = re.search(r"'([^']+)'", reason)
    at = source.find(quoted.group(1)) if quoted else -1
    return source.count("\n", 0, at) + 1 if at >= 0 else None


def _might_be_deep(text: str) -> bool:
    if max(map(len, text.split("\n"))) + MAX_DEPTH > SAFE_DEPTH:
        return True
    anchors = set(_ANCHOR.findall(text))
    return bool(anchors) and not anchors.isdisjoint(_ALIAS.findall(text))


def _check_depth(text: str) -> None:
    """Raises PipelineInvalid where the document, its aliases expanded, nests deeper than
    MAX_DEPTH, or where libyaml finds a syntax error (yaml-rs would read on unchecked)."""
    heights: dict[str, int] = {}  # anchor -> levels of collections in its node
    anchors: list[str | None] = []  # of the collections open here
    tallest: list[int] = []  # the height of each one's tallest child so far
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            kind = type(event)
            if kind is SequenceStartEvent or kind is MappingStartEvent:
                if len(tallest) == MAX_DEPTH:
                    raise _too_deep(event.start_mark.line + 1)
                anchors.append(event.anchor)
                tallest.append(0)
                continue
            if kind is SequenceEndEvent or kind is MappingEndEvent:
                anchor, height = anchors.pop(), tallest.pop() + 1
            elif kind is AliasEvent:
                anchor, height = None, heights.get(event.anchor, 0)
                if len(tallest) + height > MAX_DEPTH:
                    raise _too_deep(event.start_mark.line + 1)
            elif kind is ScalarEvent:
                anchor, height = event.anchor, 0
            else:
                continue
            if anchor is not None:
                heights[anchor] = height
            if tallest and height > tallest[-1]:
                tallest[-1] = height
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        if "nesting depth" in str(exc.problem):  # libyaml's own limit, past ours for blocks
            raise _too_deep(line) from None
        raise PipelineInvalid([YamlError("#", f"YAML syntax error: {exc.problem}", line)]) from None
    except yaml.YAMLError as exc:
        raise PipelineInvalid([YamlError("#", f"YAML syntax error: {exc}")]) from None


def _too_deep(line: int | None) -> PipelineInvalid:
    return PipelineInvalid([YamlError("#", f"nested deeper than {MAX_DEPTH} levels", line)])


def load(text: str) -> Loaded:
    """Parses one YAML document; raises PipelineInvalid for syntax errors and refused input."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PipelineInvalid([YamlError("#", f"YAML is larger than {MAX_BYTES} bytes")])
    if _might_be_deep(text):
        _check_depth(text)
    try:
        data = yaml_rs.loads(
            text,
            parse_datetime=False,
            alias_limits=_ALIAS_LIMITS,
            duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error,
        )
    except yaml_rs.YAMLDecodeError as exc:
        raise _syntax_error(exc, text) from None
    if data is None:
        raise PipelineInvalid([YamlError("#", "Empty string is not a valid YAML", 1)])
    loaded = Loaded(text, data)
    _check_bounds(loaded)
    # yaml-rs returns several documents as a list; a list is refused either way, but
    # "several documents" is the clearer reason when that is what it is.
    if isinstance(data, list) and _document_count(text) > 1:
        raise PipelineInvalid([YamlError("#", "YAML syntax error: expected a single document")])
    return loaded


def _check_bounds(loaded: Loaded) -> None:
    """Raises PipelineInvalid where the data nests deeper than MAX_DEPTH or holds an integer
    past 64 bits: the checks walk the data recursively, and Python cannot print 4,300 digits."""
    data = loaded.data
    pending: list[tuple[Any, Path]] = [(data, ())] if type(data) in (dict, list) else []
    while pending:
        node, path = pending.pop()
        if len(path) == MAX_DEPTH:
            raise _too_deep(loaded.line(path))
        for key, value in node.items() if type(node) is dict else enumerate(node):
            if type(key) is int and not INT64_MIN <= key <= INT64_MAX:
                raise _refused(loaded, path, "a key is an integer that does not fit in 64 bits")
            kind = type(value)
            if kind is dict or kind is list:
                pending.append((value, (*path, key)))
            elif kind is int and not INT64_MIN <= value <= INT64_MAX:
                raise _refused(loaded, (*path, key), "integer does not fit in 64 bits")


def _refused(loaded: Loaded, path: Path, reason: str) -> PipelineInvalid:
    return PipelineInvalid([YamlError(pointer(path), reason, loaded.line(path))])


def _document_count(text: str) -> int:
    try:
        return sum(1 for _ in yaml.compose_all(text, Loader=_LOADER))
    except (yaml.YAMLError, RecursionError):
        return 1
