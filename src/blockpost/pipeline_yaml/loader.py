"""Safe YAML loading: the data from yaml-rs (fast, with alias and depth limits), and the line
of any path from PyYAML, composed only when an error has to say where it is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml_rs
from yaml.nodes import MappingNode, Node, SequenceNode

from blockpost.pipeline_yaml.errors import Path, PipelineInvalid, YamlError

MAX_BYTES = 4 * 1024 * 1024
# Enough for 300 blocks x 50 jobs many times over; alias bombs blow far past it.
MAX_NODES = 1_000_000
MAX_DEPTH = 256  # yaml-rs refuses deeper nesting; also bounds the walk of recursive aliases
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
    elif "recursion limit" in text:
        reason = "nested too deeply"
    position = _POSITION.search(text)
    line = int(position.group(1)) if position else _line_of_quoted(reason, source)
    column = f" (column {position.group(2)})" if position and position.group(2) else ""
    return PipelineInvalid([YamlError("#", f"YAML syntax error: {reason}{column}", line)])


def _line_of_quoted(reason: str, source: str) -> int | None:
    """Some errors (e.g. "Invalid tag: '!!x'") carry no position: find what they quote."""
    quoted = re.search(r"'([^']+)'", reason)
    at = source.find(quoted.group(1)) if quoted else -1
    return source.count("\n", 0, at) + 1 if at >= 0 else None


def load(text: str) -> Loaded:
    """Parses one YAML document; raises PipelineInvalid for syntax errors and refused input."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PipelineInvalid([YamlError("#", f"YAML is larger than {MAX_BYTES} bytes")])
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
    # yaml-rs returns several documents as a list; a list is refused either way, but
    # "several documents" is the clearer reason when that is what it is.
    if isinstance(data, list) and _document_count(text) > 1:
        raise PipelineInvalid([YamlError("#", "YAML syntax error: expected a single document")])
    return Loaded(text, data)


def _document_count(text: str) -> int:
    try:
        return sum(1 for _ in yaml.compose_all(text, Loader=_LOADER))
    except (yaml.YAMLError, RecursionError):
        return 1
