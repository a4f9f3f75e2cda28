"""Safe YAML loading: plain data plus the line of every value, with size and bomb limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from blockpost.pipeline_yaml.errors import Path, PipelineInvalid, YamlError, pointer

MAX_BYTES = 4 * 1024 * 1024
# Enough for 300 blocks x 50 jobs with room to spare; alias bombs blow far past it.
MAX_NODES = 1_000_000
MAX_DEPTH = 64

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
# Dates stay text: an env var value `2024-01-01` is a string to Semaphore, not a date.
_TEXT_TAGS = {"tag:yaml.org,2002:timestamp"}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass
class Loaded:
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while True:
            found = self.lines.get(pointer(path))
            if found is not None or not path:
                return found
            path = path[:-1]


class _Converter:
    def __init__(self) -> None:
        self.lines: dict[str, int] = {}
        self.visited = 0
        self.scalars = SafeConstructor()

    def convert(self, node: Node, path: Path, line: int) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _Refused(path, node, f"document expands to more than {MAX_NODES} values")
        if len(path) > MAX_DEPTH:
            raise _Refused(path, node, f"nested deeper than {MAX_DEPTH} levels")
        self.lines.setdefault(pointer(path), line)
        if isinstance(node, ScalarNode):
            if node.tag in _TEXT_TAGS:
                return node.value
            if node.tag not in _PLAIN_TAGS:
                raise _Refused(path, node, f"unsupported YAML tag {node.tag!r}")
            return self.scalars.construct_object(node)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                raise _Refused(path, node, f"unsupported YAML tag {node.tag!r}")
            return [
                self.convert(item, (*path, index), item.start_mark.line + 1)
                for index, item in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                raise _Refused(path, node, f"unsupported YAML tag {node.tag!r}")
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Refused(path, key_node, "merge keys ('<<') are not supported")
                if not isinstance(key_node, ScalarNode):
                    raise _Refused(path, key_node, "mapping keys must be plain scalars")
                key = str(key_node.value)
                result[key] = self.convert(value_node, (*path, key), key_node.start_mark.line + 1)
            return result
        raise _Refused(path, node, "unsupported YAML node")


class _Refused(Exception):
    def __init__(self, path: Path, node: Node, message: str) -> None:
        super().__init__(message)
        self.error = YamlError(pointer(path), message, node.start_mark.line + 1)


def load(text: str) -> Loaded:
    """Parses one YAML document; raises PipelineInvalid for syntax errors and refused input."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PipelineInvalid([YamlError("#", f"YAML is larger than {MAX_BYTES} bytes")])
    if not text.strip():
        raise PipelineInvalid([YamlError("#", "Empty string is not a valid YAML", 1)])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise PipelineInvalid([YamlError("#", f"YAML syntax error: {problem}", line)]) from None
    except (yaml.YAMLError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise PipelineInvalid([YamlError("#", f"YAML syntax error: {reason}")]) from None
    if root is None:
        raise PipelineInvalid([YamlError("#", "Empty string is not a valid YAML", 1)])
    converter = _Converter()
    try:
        data = converter.convert(root, (), root.start_mark.line + 1)
    except _Refused as exc:
        raise PipelineInvalid([exc.error]) from None
    except (ConstructorError, ValueError) as exc:
        raise PipelineInvalid([YamlError("#", f"YAML value error: {exc}")]) from None
    return Loaded(data, converter.lines)
