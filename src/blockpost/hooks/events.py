"""One event type for every forge's delivery and every polled head: what the rules read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

# branch | tag: a push; pull_request: opened or new commits; the rest start nothing
EventKind = Literal["branch", "tag", "pull_request", "ping", "deletion", "other"]
ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class PullRequestFacts:
    number: int
    title: str
    head_branch: str
    head_sha: str
    head_repo: str  # owner/name of the repository the head is in
    base_branch: str
    author: str  # the forge login that opened it: forked_pull_requests.allowed_contributors
    fork: bool
    draft: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HookEvent:
    kind: EventKind
    name: str  # the forge's name for the event, for the delivery list ("push", "Push Hook")
    action: str = ""
    reference: str = ""  # refs/heads/X, refs/tags/X or refs/pull/N
    commit_sha: str = ""
    commit_message: str = ""
    commit_author: str = ""
    sender: str = ""
    pull_request: PullRequestFacts | None = None
    # a pull request event whose action starts no workflow (closed, labeled, ...)
    builds: bool = True


def text(value: Any) -> str:
    """A payload's string field, "" for anything else (payloads have nulls)."""
    return value if isinstance(value, str) else ""


def field(payload: Any, *path: str) -> Any:
    """payload[path[0]][path[1]]..., None where a step is missing or not an object."""
    for key in path:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(key)
    return payload


def ref_event(name: str, ref: str, after: str, **facts: Any) -> HookEvent:
    """A push of a branch or a tag; a deletion when the new sha is all zeros."""
    if ref.startswith("refs/tags/"):
        kind: EventKind = "tag"
    elif ref.startswith("refs/heads/"):
        kind = "branch"
    else:
        return HookEvent("other", name, reference=ref)
    if not after or after == ZERO_SHA:
        return HookEvent("deletion", name, reference=ref, sender=facts.get("sender", ""))
    return HookEvent(kind, name, reference=ref, commit_sha=after, **facts)
