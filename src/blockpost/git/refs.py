"""Git references as the API takes them: refs/heads/X, refs/tags/X, refs/pull/N."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from blockpost.errors import InvalidInput

RefType = Literal["branch", "tag", "pull-request"]
_PULL = re.compile(r"^refs/pull/(\d+)(?:/(?:head|merge))?$")
# git check-ref-format's rules, enough to keep odd names out of argv and paths.
_BAD_NAME = re.compile(r"(^[-/.])|(\.\.)|([\x00-\x20~^:?*\[\\\x7f])|(@\{)|(/$)|(\.lock$)|(//)")


@dataclass(frozen=True)
class GitRef:
    reference: str
    type: RefType
    name: str  # the branch or tag name, or the pull request number

    @property
    def branch_name(self) -> str:
        """What Semaphore shows as the workflow's branch for this reference."""
        if self.type == "branch":
            return self.name
        if self.type == "tag":
            return self.reference
        return f"pull-request-{self.name}"

    @property
    def is_snapshot(self) -> bool:
        return self.reference.startswith(SNAPSHOT_PREFIX)

    def candidates(self) -> tuple[str, ...]:
        """Refs to look up, best first (a pull request's merge commit before its head)."""
        if self.type == "pull-request":
            base = f"refs/pull/{self.name}"
            return (f"{base}/merge", f"{base}/head", base)
        return (self.reference,)


# A workflow snapshot's commit in the project's mirror (git/snapshots.py): a branch named
# by its label to everything downstream, never fetched from the remote.
SNAPSHOT_PREFIX = "refs/blockpost/snapshots/"
_SNAPSHOT = re.compile(r"^refs/blockpost/snapshots/([0-9a-f-]{36})/(.+)$")


# The workflows' reference column holds this much; every caller (API, UI, hooks) meets it here.
MAX_REFERENCE = 1024


def parse_reference(reference: str, field: str = "reference") -> GitRef:
    if len(reference) > MAX_REFERENCE:
        raise InvalidInput(field, f"is longer than {MAX_REFERENCE} characters")
    pull = _PULL.match(reference)
    if pull:
        return GitRef(reference, "pull-request", pull.group(1))
    snapshot = _SNAPSHOT.match(reference)
    if snapshot and not _BAD_NAME.search(snapshot.group(2)):
        return GitRef(reference, "branch", snapshot.group(2))
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if reference.startswith(prefix):
            name = reference.removeprefix(prefix)
            if not name or _BAD_NAME.search(name):
                raise InvalidInput(field, f"{reference!r} is not a valid git reference")
            return GitRef(reference, kind, name)  # type: ignore[arg-type]
    raise InvalidInput(
        field,
        "must be refs/heads/BRANCH, refs/tags/TAG or refs/pull/NUMBER, got " + repr(reference),
    )
