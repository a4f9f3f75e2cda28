"""Notification rules: checked and normalised as saved, and matched against a pipeline.

A pattern is a literal, compared exactly, or `/regex/`, searched (as Semaphore's
notifications service does with PostgreSQL's `~`). An empty list matches everything but
for `projects`, which a rule must name (Semaphore's rule without projects never fires).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from blockpost.errors import InvalidInput
from blockpost.notify.endpoints import check_url

FILTER_KEYS = ("projects", "branches", "tags", "pipelines", "blocks", "states", "results")
RESULTS = ("passed", "failed", "stopped", "canceled")
METHODS = ("post", "put", "patch")
MAX_RETRIES = 5  # Semaphore's cap on a webhook's `retries`
DEFAULT_RETRIES = 3
MAX_TIMEOUT_MS = 15_000
MAX_RULES = 50
MAX_PATTERNS = 100


def _regex(term: str) -> str | None:
    return term[1:-1] if len(term) >= 2 and term.startswith("/") and term.endswith("/") else None


def _check_patterns(where: str, terms: Sequence[str]) -> list[str]:
    if len(terms) > MAX_PATTERNS:
        raise InvalidInput(where, f"at most {MAX_PATTERNS} patterns")
    for index, term in enumerate(terms):
        if not term:
            raise InvalidInput(f"{where}.{index}", "must not be empty")
        expression = _regex(term)
        if expression is not None:
            try:
                re.compile(expression)
            except re.error as exc:
                raise InvalidInput(
                    f"{where}.{index}", f"{term} is not a valid regex ({exc})"
                ) from None
    return list(terms)


def _strings(value: Any) -> list[str]:
    return [str(item).strip() for item in value or []]


def check_rules(rules: Sequence[dict[str, Any]], *, allow_private: bool) -> list[dict[str, Any]]:
    """spec.rules as a client sent them (plain dicts) → the stored form, every field present.

    Raises InvalidInput naming the field (`spec.rules.0.filter.results.1`)."""
    if not rules:
        raise InvalidInput("spec.rules", "name at least one rule")
    if len(rules) > MAX_RULES:
        raise InvalidInput("spec.rules", f"at most {MAX_RULES} rules")
    return [_check_rule(f"spec.rules.{i}", rule, allow_private) for i, rule in enumerate(rules)]


def _check_rule(where: str, rule: dict[str, Any], allow_private: bool) -> dict[str, Any]:
    sent_filter = rule.get("filter") or {}
    filters = {
        key: _check_patterns(f"{where}.filter.{key}", _strings(sent_filter.get(key)))
        for key in FILTER_KEYS
    }
    if not filters["projects"]:
        raise InvalidInput(
            f"{where}.filter.projects", "name at least one project (or /.*/ for every project)"
        )
    for index, result in enumerate(filters["results"]):
        if _regex(result) is None and result.lower() not in RESULTS:
            raise InvalidInput(
                f"{where}.filter.results.{index}",
                f"{result} is not a valid result; valid values are {', '.join(RESULTS)}",
            )
    filters["results"] = [r if _regex(r) is not None else r.lower() for r in filters["results"]]
    notify = rule.get("notify") or {}
    slack = _check_slack(f"{where}.notify.slack", notify.get("slack") or {}, allow_private)
    webhook = _check_webhook(f"{where}.notify.webhook", notify.get("webhook") or {}, allow_private)
    email = notify.get("email") or {}
    if not slack["endpoint"] and not webhook["endpoint"]:
        raise InvalidInput(
            f"{where}.notify",
            "needs a slack or a webhook endpoint (blockpost sends no email)",
        )
    return {
        "name": str(rule.get("name") or ""),
        "filter": filters,
        "notify": {
            "slack": slack,
            "email": {
                "subject": str(email.get("subject") or ""),
                "cc": _strings(email.get("cc")),
                "bcc": _strings(email.get("bcc")),
                "content": str(email.get("content") or ""),
                "status": str(email.get("status") or "ACTIVE"),
            },
            "webhook": webhook,
        },
    }


def _check_slack(where: str, slack: dict[str, Any], allow_private: bool) -> dict[str, Any]:
    endpoint = str(slack.get("endpoint") or "").strip()
    if endpoint:
        check_url(endpoint, f"{where}.endpoint", allow_private=allow_private)
    channels = _strings(slack.get("channels"))
    if len(channels) > MAX_PATTERNS:
        raise InvalidInput(f"{where}.channels", f"at most {MAX_PATTERNS} channels")
    return {
        "endpoint": endpoint,
        "channels": channels,
        "message": str(slack.get("message") or ""),
        "status": str(slack.get("status") or "ACTIVE"),
    }


def _check_webhook(where: str, webhook: dict[str, Any], allow_private: bool) -> dict[str, Any]:
    endpoint = str(webhook.get("endpoint") or "").strip()
    if endpoint:
        check_url(endpoint, f"{where}.endpoint", allow_private=allow_private)
    action = str(webhook.get("action") or "").strip().lower()
    if action and action not in METHODS:
        raise InvalidInput(f"{where}.action", f"must be one of {', '.join(METHODS)}")
    timeout = webhook.get("timeout") or 0
    if not isinstance(timeout, int) or not 0 <= timeout <= MAX_TIMEOUT_MS:
        raise InvalidInput(f"{where}.timeout", f"must be 0-{MAX_TIMEOUT_MS} (milliseconds)")
    retries = webhook.get("retries") or 0
    if not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise InvalidInput(f"{where}.retries", f"must be 0-{MAX_RETRIES}")
    return {
        "endpoint": endpoint,
        "timeout": timeout,
        "action": action,
        "retries": retries,
        "secret": str(webhook.get("secret") or "").strip(),
        "status": str(webhook.get("status") or "ACTIVE"),
    }


def secret_names(rules: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(field, secret name) of every webhook that is to be signed."""
    return [
        (f"spec.rules.{i}.notify.webhook.secret", rule["notify"]["webhook"]["secret"])
        for i, rule in enumerate(rules)
        if rule["notify"]["webhook"]["endpoint"] and rule["notify"]["webhook"]["secret"]
    ]


@dataclass(frozen=True)
class Subject:
    """What rules look at in a finished pipeline."""

    project: str
    branch: str | None  # None for a tag's pipeline
    tag: str | None  # None but for a tag's pipeline
    pipeline_file: str
    result: str


def _hit(terms: Sequence[str], value: str) -> bool:
    for term in terms:
        expression = _regex(term)
        if value == term if expression is None else re.search(expression, value) is not None:
            return True
    return False


def matches(rule: dict[str, Any], subject: Subject) -> bool:
    """Semaphore's rule filter: branches are looked at only for branch (and pull request)
    pipelines, tags only for tag pipelines; a pipeline file matches by its path or its
    file name (Semaphore compares the file name)."""
    filters = rule["filter"]
    file_name = subject.pipeline_file.rsplit("/", 1)[-1]
    checks = [
        (filters["projects"], [subject.project]),
        (filters["branches"], [] if subject.branch is None else [subject.branch]),
        (filters["tags"], [] if subject.tag is None else [subject.tag]),
        (filters["pipelines"], [subject.pipeline_file, file_name]),
        (filters["results"], [subject.result]),
    ]
    return all(
        not terms or not values or any(_hit(terms, value) for value in values)
        for terms, values in checks
    )
