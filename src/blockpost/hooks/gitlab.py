"""GitLab's deliveries: Push Hook, Tag Push Hook, Merge Request Hook.

A merge request's commits are in refs/merge-requests/IID/head, which the mirror fetches as
refs/pull/IID/head (git/mirror.py), so it runs as refs/pull/IID.
"""

from __future__ import annotations

from typing import Any

from blockpost.hooks.events import HookEvent, PullRequestFacts, field, ref_event, text

# "update" with oldrev: new commits (an update without is a title or label edit)
BUILD_ACTIONS = frozenset({"open", "reopen"})


def _push(name: str, payload: Any) -> HookEvent:
    after = text(field(payload, "checkout_sha")) or text(field(payload, "after"))
    if text(field(payload, "after")) == "0" * 40:
        after = ""
    commits = field(payload, "commits")
    commits = commits if isinstance(commits, list) else []
    head = next((c for c in commits if isinstance(c, dict) and c.get("id") == after), {})
    return ref_event(
        name,
        text(field(payload, "ref")),
        after,
        commit_message=text(head.get("message")),
        commit_author=text(field(head, "author", "name")),
        sender=text(field(payload, "user_username")) or text(field(payload, "user_name")),
    )


def _merge_request(name: str, payload: Any) -> HookEvent:
    attrs = field(payload, "object_attributes")
    action = text(field(attrs, "action"))
    number = field(attrs, "iid")
    if not isinstance(number, int):
        return HookEvent("other", name, action=action)
    last = field(attrs, "last_commit")
    facts = PullRequestFacts(
        number=number,
        title=text(field(attrs, "title")),
        head_branch=text(field(attrs, "source_branch")),
        head_sha=text(field(last, "id")),
        head_repo=text(field(attrs, "source", "path_with_namespace")),
        base_branch=text(field(attrs, "target_branch")),
        author=text(field(payload, "user", "username")),
        fork=field(attrs, "source_project_id") != field(attrs, "target_project_id"),
        draft=field(attrs, "draft") is True or field(attrs, "work_in_progress") is True,
    )
    builds = action in BUILD_ACTIONS or (action == "update" and bool(field(attrs, "oldrev")))
    return HookEvent(
        "pull_request",
        name,
        action=action,
        reference=f"refs/pull/{number}",
        commit_sha=facts.head_sha,
        commit_message=text(field(last, "message")),
        commit_author=text(field(last, "author", "name")),
        sender=facts.author,
        pull_request=facts,
        builds=builds,
    )


def parse(event: str, payload: Any) -> HookEvent:
    if event in ("Push Hook", "Tag Push Hook"):
        return _push(event, payload)
    if event == "Merge Request Hook":
        return _merge_request(event, payload)
    return HookEvent("other", event or "(none)")
