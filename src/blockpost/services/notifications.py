"""Notifications: create, change, read and delete them, and read their delivery log.

Administrators manage them (they are the organization's, like global secrets, and their
endpoints are credentials). Each is delivered only for projects its creator — whoever
saved it last — can see (notify/outbox.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.crypto import Sealer
from blockpost.db.models import Notification, NotificationDelivery
from blockpost.db.paging import fetch_page
from blockpost.errors import Conflict, InvalidInput, NotFound
from blockpost.notify.rules import check_rules, secret_names
from blockpost.notify.sender import SECRET_VARIABLE
from blockpost.services import secrets
from blockpost.services.principal import Principal
from blockpost.services.secrets import SecretData

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


@dataclass(frozen=True)
class SentNotification:
    """As a client sent it; `rules` None when a change leaves them as they are."""

    name: str
    rules: Sequence[dict[str, Any]] | None


@dataclass(frozen=True)
class Policy:
    """What the server's settings allow notifications to do."""

    allow_private_endpoints: bool


def _check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise InvalidInput(
            "metadata.name", "must be 1-255 letters, digits, '.', '_' or '-', starting with one"
        )


async def _check_secrets(
    session: AsyncSession, sealer: Sealer, rules: Sequence[dict[str, Any]]
) -> None:
    """A webhook's `secret` names a global secret whose WEBHOOK_SECRET signs the body."""
    for field, name in secret_names(rules):
        try:
            secret = await secrets.get_secret(session, None, name)
        except NotFound:
            raise InvalidInput(field, f"no global secret named {name!r}") from None
        values = dict(SecretData.unseal(sealer, secret.sealed).env_vars)
        if not values.get(SECRET_VARIABLE):
            raise InvalidInput(field, f"secret {name!r} has no {SECRET_VARIABLE} variable")


async def _ensure_name_free(session: AsyncSession, name: str, except_id: str = "") -> None:
    clash = await session.scalar(
        select(Notification.id).where(Notification.name == name, Notification.id != except_id)
    )
    if clash:
        raise Conflict(f"a notification named {name!r} already exists")


async def find(session: AsyncSession, id_or_name: str) -> Notification:
    notification = await session.scalar(
        select(Notification).where(Notification.name == id_or_name)
    ) or await session.get(Notification, id_or_name)
    if notification is None:
        raise NotFound(f"notification {id_or_name!r} not found")
    return notification


async def list_notifications(
    session: AsyncSession, offset: int, limit: int
) -> tuple[list[Notification], int]:
    query = select(Notification).order_by(Notification.name)
    return await fetch_page(session, query, offset, limit)


async def create(
    session: AsyncSession,
    sealer: Sealer,
    policy: Policy,
    caller: Principal,
    sent: SentNotification,
) -> Notification:
    _check_name(sent.name)
    rules = check_rules(sent.rules or [], allow_private=policy.allow_private_endpoints)
    await _check_secrets(session, sealer, rules)
    await _ensure_name_free(session, sent.name)
    notification = Notification(name=sent.name, creator_id=caller.id, rules=rules)
    session.add(notification)
    await session.flush()
    return notification


async def update(
    session: AsyncSession,
    sealer: Sealer,
    policy: Policy,
    caller: Principal,
    id_or_name: str,
    sent: SentNotification,
) -> Notification:
    """Changes the name when one is sent and the rules when they are sent (as a whole)."""
    notification = await find(session, id_or_name)
    if sent.name and sent.name != notification.name:
        _check_name(sent.name)
        await _ensure_name_free(session, sent.name, notification.id)
        notification.name = sent.name
    if sent.rules is not None:
        rules = check_rules(sent.rules, allow_private=policy.allow_private_endpoints)
        await _check_secrets(session, sealer, rules)
        notification.rules = rules
    # As Semaphore: the last to save it is whose view of the projects decides its deliveries.
    notification.creator_id = caller.id
    await session.flush()
    return notification


async def delete(session: AsyncSession, id_or_name: str) -> None:
    notification = await find(session, id_or_name)
    await session.delete(notification)
    await session.flush()


async def deliveries(
    session: AsyncSession, notification: Notification, offset: int, limit: int
) -> tuple[list[NotificationDelivery], int]:
    """The delivery log, newest first."""
    query = (
        select(NotificationDelivery)
        .where(NotificationDelivery.notification_id == notification.id)
        .order_by(NotificationDelivery.id.desc())
    )
    return await fetch_page(session, query, offset, limit)
