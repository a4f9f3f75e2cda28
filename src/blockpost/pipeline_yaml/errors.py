"""What the validator reports: each error with its JSON-pointer path and YAML line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from blockpost.errors import BlockpostError

PathPart = str | int
Path = tuple[PathPart, ...]


def pointer(path: Path) -> str:
    """`("blocks", 1, "task")` -> `#/blocks/1/task` (JSON pointer escaping for `~` and `/`)."""
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return "#/" + "/".join(escaped) if path else "#"


@dataclass(frozen=True)
class YamlError:
    path: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path}: {self.message}"


class PipelineInvalid(BlockpostError):
    """A pipeline definition failed validation; `errors` lists every problem found."""

    def __init__(self, errors: Sequence[YamlError]) -> None:
        self.errors = list(errors)
        first = str(self.errors[0]) if self.errors else "invalid pipeline"
        more = len(self.errors) - 1
        super().__init__(first + (f" (and {more} more error{'s' * (more > 1)})" if more else ""))

    def details(self) -> dict[str, Any]:
        return {"errors": [error.as_dict() for error in self.errors]}
