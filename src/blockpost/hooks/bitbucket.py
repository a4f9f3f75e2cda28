"""Bitbucket Cloud's deliveries: repo:push (a branch or tag), pull requests.

Semaphore builds no pull requests of Bitbucket repositories (its trigger options say so):
pull request events are recorded as starting nothing.
"""

from __future__ import annotations

from typing import Any

from blockpost.hooks.events import HookEvent, field, ref_event, text

REF_PREFIX = {"branch": "refs/heads/", "tag": "refs/tags/"}


def _push(name: str, payload: Any) -> HookEvent:
    changes = field(payload, "push", "changes")
    change = changes[0] if isinstance(changes, list) and changes else {}
    sender = text(field(payload, "actor", "nickname")) or text(field(payload, "actor", "username"))
    new, old = field(change, "new"), field(change, "old")
    ref_of = new if isinstance(new, dict) else old
    prefix = REF_PREFIX.get(text(field(ref_of, "type")))
    if prefix is None:
        return HookEvent("other", name, sender=sender)
    target = field(new, "target")
    return ref_event(
        name,
        prefix + text(field(ref_of, "name")),
        text(field(target, "hash")),
        commit_message=text(field(target, "message")),
        commit_author=text(field(target, "author", "display_name"))
        or text(field(target, "author", "raw")),
        sender=sender,
    )


def parse(event: str, payload: Any) -> HookEvent:
    if event == "repo:push":
        return _push(event, payload)
    return HookEvent("other", event or "(none)")
