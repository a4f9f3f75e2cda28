"""The embedded agents' type, and who may run jobs on them (they share the server's host)."""

from __future__ import annotations

from enum import StrEnum

from blockpost.errors import PermissionDenied

EMBEDDED_AGENT_TYPE = "s1-local"


class EmbeddedUsers(StrEnum):
    ALL = "all"
    ADMINS = "admins"


def refusal(policy: EmbeddedUsers | None, agent_type: str, admin: bool) -> str | None:
    """Why a job of this user may not run on `agent_type`, or None when it may.
    `policy` is None when the server runs no embedded agents (the type is then ordinary)."""
    if policy is not EmbeddedUsers.ADMINS or agent_type != EMBEDDED_AGENT_TYPE or admin:
        return None
    return (
        f"agent type {EMBEDDED_AGENT_TYPE} runs on the server's own machine and takes jobs "
        "of administrators only here (BLOCKPOST_EMBEDDED_AGENT_USERS=admins, the default "
        "when no job sandbox is in force); use an agent type of your own"
    )


def check(policy: EmbeddedUsers | None, agent_type: str, admin: bool) -> None:
    reason = refusal(policy, agent_type, admin)
    if reason is not None:
        raise PermissionDenied(reason)
