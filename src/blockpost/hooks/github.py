"""GitHub's deliveries (and Gitea's, which copy their shape): push, pull_request, ping."""

from __future__ import annotations

from typing import Any

from blockpost.hooks.events import HookEvent, PullRequestFacts, field, ref_event, text

# the actions after which a pull request's newest commit has not been built
BUILD_ACTIONS = frozenset({"opened", "synchronize", "synchronized", "reopened", "ready_for_review"})


def _head_commit(payload: Any) -> dict[str, Any]:
    head = field(payload, "head_commit")
    if isinstance(head, dict):
        return head
    after = text(field(payload, "after"))
    commits = field(payload, "commits")
    commits = commits if isinstance(commits, list) else []
    return next((c for c in commits if isinstance(c, dict) and c.get("id") == after), {})


def push(name: str, payload: Any) -> HookEvent:
    head = _head_commit(payload)
    return ref_event(
        name,
        text(field(payload, "ref")),
        text(field(payload, "after")),
        commit_message=text(head.get("message")),
        commit_author=text(field(head, "author", "name")),
        sender=text(field(payload, "sender", "login")),
    )


def pull_request(name: str, payload: Any) -> HookEvent:
    pull = field(payload, "pull_request")
    action = text(field(payload, "action"))
    number = field(pull, "number") or field(payload, "number")
    if not isinstance(number, int):
        return HookEvent("other", name, action=action)
    head_repo = text(field(pull, "head", "repo", "full_name"))
    base_repo = text(field(pull, "base", "repo", "full_name"))
    facts = PullRequestFacts(
        number=number,
        title=text(field(pull, "title")),
        head_branch=text(field(pull, "head", "ref")),
        head_sha=text(field(pull, "head", "sha")),
        head_repo=head_repo,
        base_branch=text(field(pull, "base", "ref")),
        author=text(field(pull, "user", "login")),
        # a deleted fork has no repository: still not this one
        fork=head_repo != base_repo,
        draft=field(pull, "draft") is True,
    )
    return HookEvent(
        "pull_request",
        name,
        action=action,
        reference=f"refs/pull/{number}",
        commit_sha=facts.head_sha,
        # the head commit's message is not in the payload: the starter reads it from git
        commit_author=facts.author,
        sender=text(field(payload, "sender", "login")),
        pull_request=facts,
        builds=action in BUILD_ACTIONS,
    )


def parse(event: str, payload: Any) -> HookEvent:
    if event == "push":
        return push(event, payload)
    if event == "pull_request":
        return pull_request(event, payload)
    if event == "ping":
        return HookEvent("ping", event, sender=text(field(payload, "sender", "login")))
    return HookEvent("other", event or "(none)")
