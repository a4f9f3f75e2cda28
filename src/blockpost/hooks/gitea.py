"""Gitea's and Forgejo's deliveries: GitHub's shapes under X-Gitea-Event."""

from __future__ import annotations

from typing import Any

from blockpost.hooks import github
from blockpost.hooks.events import HookEvent


def parse(event: str, payload: Any) -> HookEvent:
    # Gitea names the event of a pull request's new commits pull_request_sync in its
    # header and "synchronized" in the payload's action
    if event in ("pull_request", "pull_request_sync"):
        return github.pull_request(event, payload)
    if event == "push":
        return github.push(event, payload)
    return HookEvent("other", event or "(none)")
