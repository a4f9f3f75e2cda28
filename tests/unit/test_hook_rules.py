"""The run_on / whitelist / forked pull request rules, applied to each forge's published
sample payload (tests/data/hooks) as Semaphore's documentation describes them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from blockpost.hooks.providers import PROVIDERS
from blockpost.hooks.rules import decide, whitelisted
from tests.api.test_hooks import (
    bitbucket_push,
    gitea_push,
    github_pull,
    github_push,
    github_tag,
    gitlab_merge_request,
    gitlab_push,
    load,
)

DEFAULT_RUN_ON = ["branches", "tags"]  # a new project's


SHA = "a" * 40


def decision_cases() -> list[Any]:
    """(provider, payload, event header, repository spec, state, reason) for each rule."""
    push = github_push("refs/heads/master", SHA)
    feature = github_push("refs/heads/feature-x", SHA)
    tag = github_tag("v1.2.3", SHA)
    pull = github_pull("pull_request_opened", 2, SHA)
    sync = github_pull("pull_request_synchronize", 2, SHA)
    fork = github_pull("pull_request_opened", 2, SHA, fork=True)
    draft = github_pull("pull_request_opened", 2, SHA, draft=True)
    gl_push = gitlab_push("refs/heads/master", SHA)
    gl_tag = gitlab_push("refs/tags/v1.0.0", SHA)
    gl_mr = gitlab_merge_request(1, SHA)
    gl_fork = gitlab_merge_request(1, SHA, fork=True)
    all_on = ["branches", "tags", "pull_requests", "forked_pull_requests", "draft_pull_requests"]
    closed = copy.deepcopy(pull)
    closed["action"] = "closed"
    return [
        ("github", push, "push", {}, "accepted", "to start"),
        ("github", push, "push", {"run_on": ["tags"]},
         "skipped", "run_on does not include branches"),
        ("github", feature, "push", {"whitelist": {"branches": ["master", "/^release-/"]}},
         "skipped", "branch 'feature-x' is not in spec.repository.whitelist.branches"),
        ("github", feature, "push", {"whitelist": {"branches": ["/^feature-/"]}}, "accepted", ""),
        ("github", feature, "push", {"whitelist": {"branches": ["feature-x"]}}, "accepted", ""),
        ("github", tag, "push", {}, "accepted", ""),
        ("github", tag, "push", {"run_on": ["branches"]},
         "skipped", "run_on does not include tags"),
        ("github", tag, "push", {"whitelist": {"tags": ["/^v\\d+\\.\\d+\\.\\d+$/"]}},
         "accepted", ""),
        ("github", tag, "push", {"whitelist": {"tags": ["v2.0.0"]}},
         "skipped", "tag 'v1.2.3' is not in spec.repository.whitelist.tags"),
        ("github", pull, "pull_request", {}, "skipped", "run_on does not include pull_requests"),
        ("github", pull, "pull_request", {"run_on": ["pull_requests"]}, "accepted", ""),
        ("github", sync, "pull_request", {"run_on": ["pull_requests"]}, "accepted", ""),
        ("github", closed, "pull_request", {"run_on": all_on}, "ignored",
         "pull_request closed events start no workflow"),
        ("github", fork, "pull_request", {"run_on": ["pull_requests"]},
         "skipped", "run_on does not include forked_pull_requests"),
        ("github", fork, "pull_request", {"run_on": ["forked_pull_requests"]}, "accepted", ""),
        ("github", fork, "pull_request",
         {"run_on": ["forked_pull_requests"],
          "forked_pull_requests": {"allowed_contributors": ["someone-else"]}},
         "skipped", "Codertocat is not in spec.repository.forked_pull_requests"),
        ("github", fork, "pull_request",
         {"run_on": ["forked_pull_requests"],
          "forked_pull_requests": {"allowed_contributors": ["Codertocat"]}}, "accepted", ""),
        ("github", draft, "pull_request", {"run_on": ["pull_requests"]},
         "skipped", "a draft pull request"),
        ("github", draft, "pull_request", {"run_on": ["pull_requests", "draft_pull_requests"]},
         "accepted", ""),
        ("github", load("github/ping.json"), "ping", {}, "ignored", "ping"),
        ("github", load("github/tag_delete.json"), "push", {}, "ignored", "was deleted"),
        ("gitlab", gl_push, "Push Hook", {}, "accepted", ""),
        ("gitlab", gl_tag, "Tag Push Hook", {"run_on": ["branches"]},
         "skipped", "run_on does not include tags"),
        ("gitlab", gl_mr, "Merge Request Hook", {"run_on": ["pull_requests"]}, "accepted", ""),
        ("gitlab", gl_fork, "Merge Request Hook", {"run_on": ["pull_requests"]},
         "skipped", "run_on does not include forked_pull_requests"),
        ("gitea", gitea_push("refs/heads/develop", SHA), "push",
         {"whitelist": {"branches": ["master"]}},
         "skipped", "branch 'develop' is not in spec.repository.whitelist.branches"),
        ("gitea", gitea_push("refs/heads/develop", SHA), "push", {}, "accepted", ""),
        ("bitbucket", bitbucket_push("tag", "v9", SHA), "repo:push", {}, "accepted", ""),
        ("bitbucket", bitbucket_push("branch", "main", SHA), "repo:push", {"run_on": ["tags"]},
         "skipped", "run_on does not include branches"),
        ("bitbucket", load("bitbucket/push.json"), "pullrequest:created", {}, "ignored",
         "pullrequest:created events start no workflow"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "payload", "event", "spec", "state", "reason"), decision_cases()
)
def test_each_rule_decides_as_semaphore_documents(
    provider: str,
    payload: dict[str, Any],
    event: str,
    spec: dict[str, Any],
    state: str,
    reason: str,
) -> None:
    parsed = PROVIDERS[provider].parse(event, payload)
    decision = decide(
        parsed,
        spec.get("run_on", DEFAULT_RUN_ON),
        spec.get("whitelist", {}),
        spec.get("forked_pull_requests", {}),
    )
    assert decision.state == state, decision
    assert reason in decision.reason


def test_a_forked_pull_request_gets_only_its_allowed_secrets() -> None:
    fork = PROVIDERS["github"].parse(
        "pull_request", github_pull("pull_request_opened", 2, SHA, fork=True)
    )
    run_on = ["forked_pull_requests"]
    assert decide(fork, run_on, {}, {}).allowed_secrets == []
    allowed = decide(fork, run_on, {}, {"allowed_secrets": ["public"]}).allowed_secrets
    assert allowed == ["public"]
    own = PROVIDERS["github"].parse("pull_request", github_pull("pull_request_opened", 2, SHA))
    assert decide(own, ["pull_requests"], {}, {}).allowed_secrets is None


def test_a_whitelist_entry_is_a_name_or_a_slash_enclosed_regular_expression() -> None:
    assert whitelisted("anything", [])
    assert whitelisted("feature-1", ["/feature-.*/"])
    assert whitelisted("my-feature-1", ["/feature-/"])  # matched anywhere, as a search
    assert not whitelisted("feature-1", ["feature-.*"])  # without slashes: a name
    assert not whitelisted("x", ["/[/"])  # a broken expression matches nothing


def test_the_parsed_events_carry_the_payloads_facts() -> None:
    push = PROVIDERS["gitlab"].parse("Push Hook", load("gitlab/push.json"))
    assert (push.kind, push.reference, push.commit_sha) == (
        "branch",
        "refs/heads/master",
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    )
    assert (push.commit_message, push.commit_author, push.sender) == (
        "fixed readme",
        "GitLab dev user",
        "jsmith",
    )
    merge = PROVIDERS["gitlab"].parse("Merge Request Hook", load("gitlab/merge_request.json"))
    assert merge.reference == "refs/pull/1"
    assert merge.pull_request is not None
    assert (merge.pull_request.head_branch, merge.pull_request.base_branch) == (
        "ms-viewport",
        "master",
    )
    tag = PROVIDERS["github"].parse("push", load("github/tag_push.json"))
    assert (tag.kind, tag.reference) == ("tag", "refs/tags/simple-tag")
    pull = PROVIDERS["github"].parse("pull_request", load("github/pull_request_opened.json"))
    assert pull.pull_request is not None
    assert (pull.reference, pull.pull_request.head_branch, pull.pull_request.fork) == (
        "refs/pull/2",
        "changes",
        False,
    )
    gitea = PROVIDERS["gitea"].parse("push", load("gitea/push.json"))
    assert (gitea.reference, gitea.commit_message, gitea.commit_author) == (
        "refs/heads/develop",
        "Webhooks Yay!",
        "Gitea",
    )
    bitbucket = PROVIDERS["bitbucket"].parse("repo:push", load("bitbucket/push.json"))
    assert (bitbucket.reference, bitbucket.commit_sha, bitbucket.sender) == (
        "refs/heads/name-of-branch",
        "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
        "emmap1",
    )
