"""One server log line per event an operator follows: logins, tokens, workflows, pipelines,
agents, schedules, webhook decisions. Never a secret: callers pass names, ids and reasons.

Text logs read `event=login.failed user=alice address=10.0.0.7`; with
BLOCKPOST_LOG_FORMAT=json the same fields are keys of the line's object (logformat.py).
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.engine import after_commit
from blockpost.logformat import EVENT_FIELDS

log = logging.getLogger("blockpost.events")
_BARE = re.compile(r"[A-Za-z0-9_.:/@+-]+")

Value = str | int | float | bool | None


def _shown(value: Value) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    # Quoted when it has spaces or quotes, so one field never reads as two.
    return (
        text
        if _BARE.fullmatch(text)
        else '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    )


def emit(event: str, **fields: Value) -> None:
    """Logs the event now, at INFO; a field that is None is left out."""
    fields = {key: value for key, value in fields.items() if value is not None}
    line = " ".join([f"event={event}", *(f"{key}={_shown(v)}" for key, v in fields.items())])
    log.info(line, extra={EVENT_FIELDS: {"event": event, **fields}})


def emit_after_commit(session: AsyncSession, event: str, **fields: Value) -> None:
    """Logs the event once the session's transaction has committed: a rolled-back change
    never shows in the log."""
    after_commit(session, lambda: emit(event, **fields))


def webhook_decision(
    session: AsyncSession,
    *,
    project: str,
    provider: str,
    delivery: str,
    decision: str,
    reason: str,
) -> None:
    """What a forge's webhook delivery led to (a workflow started, or why not), once the
    delivery is recorded. The signature and the hook secret are never passed here."""
    emit_after_commit(
        session,
        "webhook.decision",
        project=project,
        provider=provider,
        delivery=delivery,
        decision=decision,
        reason=reason,
    )
