"""Whether an event starts a workflow: run_on, whitelist, forked pull requests, [skip ci].

As Semaphore documents them (docs.semaphoreci.com, workflow triggers and the project YAML):
- run_on lists what builds: branches, tags, pull_requests, forked_pull_requests,
  draft_pull_requests (a draft builds only with it);
- whitelist.branches / whitelist.tags, when not empty, limit the branches and tags that
  build; an entry is a name or a /regular expression/; the branch whitelist applies to new
  branches only ("Semaphore will always create workflows for existing branches");
- forked_pull_requests.allowed_contributors, when not empty, limits whose forked pull
  requests build; allowed_secrets names the only secrets their jobs get (none by default);
- "[skip ci]" or "[ci skip]" in the commit message starts nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from blockpost.hooks.events import HookEvent

SKIP_MARKS = ("[skip ci]", "[ci skip]")
State = Literal["accepted", "skipped", "ignored"]


@dataclass(frozen=True)
class Decision:
    state: State  # accepted: a workflow is to start
    reason: str
    allowed_secrets: list[str] | None = None  # None: every secret the pipeline names


def whitelisted(name: str, entries: list[str]) -> bool:
    """An empty whitelist lets everything through; `/re/` entries match anywhere."""
    if not entries:
        return True
    for entry in entries:
        if len(entry) > 1 and entry.startswith("/") and entry.endswith("/"):
            try:
                if re.search(entry[1:-1], name):
                    return True
            except re.error:
                continue
        elif entry == name:
            return True
    return False


def _skip(reason: str) -> Decision:
    return Decision("skipped", reason)


def decide(
    event: HookEvent,
    run_on: list[str],
    whitelist: dict[str, Any],
    forked: dict[str, Any],
    *,
    branch_built_before: bool = False,
) -> Decision:
    if event.kind == "ping":
        return Decision("ignored", "ping: the hook reaches blockpost")
    if event.kind == "deletion":
        return Decision("ignored", f"{event.reference} was deleted: nothing to build")
    if event.kind == "other" or not event.builds:
        what = f"{event.name} {event.action}".strip()
        return Decision("ignored", f"{what} events start no workflow")
    if event.kind == "branch":
        name = event.reference.removeprefix("refs/heads/")
        if "branches" not in run_on:
            return _skip("spec.repository.run_on does not include branches")
        entries = list(whitelist.get("branches") or [])
        if not branch_built_before and not whitelisted(name, entries):
            return _skip(f"branch {name!r} is not in spec.repository.whitelist.branches")
    elif event.kind == "tag":
        name = event.reference.removeprefix("refs/tags/")
        if "tags" not in run_on:
            return _skip("spec.repository.run_on does not include tags")
        if not whitelisted(name, list(whitelist.get("tags") or [])):
            return _skip(f"tag {name!r} is not in spec.repository.whitelist.tags")
    allowed: list[str] | None = None
    pull = event.pull_request
    if pull is not None:
        if pull.fork:
            if "forked_pull_requests" not in run_on:
                return _skip("spec.repository.run_on does not include forked_pull_requests")
            contributors = list(forked.get("allowed_contributors") or [])
            if contributors and pull.author not in contributors:
                return _skip(
                    f"{pull.author or 'the author'} is not in "
                    "spec.repository.forked_pull_requests.allowed_contributors"
                )
            allowed = list(forked.get("allowed_secrets") or [])
        elif "pull_requests" not in run_on:
            return _skip("spec.repository.run_on does not include pull_requests")
        if pull.draft and "draft_pull_requests" not in run_on:
            return _skip("a draft pull request: spec.repository.run_on has no draft_pull_requests")
    message = event.commit_message.lower()
    mark = next((mark for mark in SKIP_MARKS if mark in message), None)
    if mark:
        return _skip(f"the commit message says {mark}")
    return Decision("accepted", "to start", allowed)
