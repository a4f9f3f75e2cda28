"""How each forge signs, names and shapes a delivery: verify, delivery id, parse.

Verification reads the raw body and nothing else, before any parsing; every comparison
is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from blockpost.hooks import bitbucket, gitea, github, gitlab
from blockpost.hooks.events import HookEvent

Headers = Mapping[str, str]  # lower-case names


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _prefixed_hmac(header: str) -> Callable[[Headers, bytes, str], bool]:
    """`sha256=<hex HMAC-SHA256 of the body>` in `header` (GitHub, Bitbucket Cloud)."""

    def verify(headers: Headers, body: bytes, secret: str) -> bool:
        return _same(headers.get(header, ""), "sha256=" + hmac_hex(secret, body))

    return verify


def _gitea_verify(headers: Headers, body: bytes, secret: str) -> bool:
    """The bare hex HMAC-SHA256 in X-Gitea-Signature (Forgejo: X-Forgejo-Signature too)."""
    given = headers.get("x-gitea-signature") or headers.get("x-forgejo-signature") or ""
    return _same(given, hmac_hex(secret, body))


def _gitlab_verify(headers: Headers, body: bytes, secret: str) -> bool:
    """GitLab signs nothing: it sends the secret token itself in X-Gitlab-Token."""
    return _same(headers.get("x-gitlab-token", ""), secret)


@dataclass(frozen=True)
class Provider:
    name: str
    verify: Callable[[Headers, bytes, str], bool]
    delivery_headers: tuple[str, ...]  # the delivery's id, first one present
    event_header: str
    parse: Callable[[str, Any], HookEvent]  # (event header's value, payload)
    signature_header: str  # how the README and the webhook endpoint name it

    def delivery_id(self, headers: Headers, body: bytes) -> str:
        """The forge's id of the delivery; for one without, the body's digest (a forge
        resending the same body is then a replay too)."""
        for name in self.delivery_headers:
            if value := headers.get(name, "").strip():
                return value[:255]
        return "sha256:" + hashlib.sha256(body).hexdigest()


PROVIDERS = {
    "github": Provider(
        "github",
        _prefixed_hmac("x-hub-signature-256"),
        ("x-github-delivery",),
        "x-github-event",
        github.parse,
        "X-Hub-Signature-256",
    ),
    "gitlab": Provider(
        "gitlab",
        _gitlab_verify,
        ("x-gitlab-event-uuid", "idempotency-key"),
        "x-gitlab-event",
        gitlab.parse,
        "X-Gitlab-Token",
    ),
    "gitea": Provider(
        "gitea",
        _gitea_verify,
        ("x-gitea-delivery", "x-forgejo-delivery"),
        "x-gitea-event",
        gitea.parse,
        "X-Gitea-Signature",
    ),
    "bitbucket": Provider(
        "bitbucket",
        _prefixed_hmac("x-hub-signature"),
        ("x-request-uuid",),
        "x-event-key",
        bitbucket.parse,
        "X-Hub-Signature",
    ),
}
