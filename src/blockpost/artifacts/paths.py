"""Artifact keys as Semaphore's artifact CLI names them: artifacts/<level>/<id>/<path>."""

from __future__ import annotations

import re
from dataclasses import dataclass

from blockpost.errors import InvalidInput

ROOT = "artifacts"
# Semaphore's levels, as the CLI's path resolver spells them in keys, and their singulars.
LEVELS = {"project": "projects", "workflow": "workflows", "job": "jobs"}
PLURALS = frozenset(LEVELS.values())
# Owners are the ids of projects, workflows and jobs (UUIDs); nothing like '..'.
OWNER = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Key:
    """One artifact key: `level` is plural (projects, workflows, jobs); `path` may be ""
    for the whole level of one owner (a directory)."""

    level: str
    owner: str
    path: str

    @property
    def text(self) -> str:
        base = f"{ROOT}/{self.level}/{self.owner}"
        return f"{base}/{self.path}" if self.path else base

    def child(self, rest: str) -> Key:
        return Key(self.level, self.owner, f"{self.path}/{rest}" if self.path else rest)


def level_name(scope: str, where: str = "scope") -> str:
    """The plural level of a scope given as project/projects, workflow(s) or job(s)."""
    plural = LEVELS.get(scope, scope)
    if plural not in PLURALS:
        raise InvalidInput(where, "must be one of project, workflow, job")
    return plural


def clean_path(path: str, where: str = "path", *, allow_empty: bool = False) -> str:
    """A relative path of plain segments: no '..', '.', backslash or NUL; slashes trimmed."""
    if "\\" in path or "\x00" in path:
        raise InvalidInput(where, "must not contain a backslash or NUL")
    segments = [segment for segment in path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise InvalidInput(where, "must not contain '.' or '..' segments")
    if not segments and not allow_empty:
        raise InvalidInput(where, "must name a file or directory")
    return "/".join(segments)


def is_owner(text: str) -> bool:
    return OWNER.fullmatch(text) is not None


def parse_key(text: str, where: str = "paths") -> Key:
    """`artifacts/<projects|workflows|jobs>/<id>/<path>`, as the artifact CLI sends it."""
    parts = text.strip("/").split("/", 3)
    if len(parts) < 4 or parts[0] != ROOT or parts[1] not in PLURALS or not is_owner(parts[2]):
        raise InvalidInput(
            where, f"{text!r} is not artifacts/<projects|workflows|jobs>/<id>/<path>"
        )
    return Key(parts[1], parts[2], clean_path(parts[3], where))
