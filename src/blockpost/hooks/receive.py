"""Taking a delivery: verify it, read it, decide, record it; starting is the starter's.

A delivery is answered as soon as it is recorded (the fetch and the workflow come after,
from hooks/starter.py), so a forge's short timeout never sees a slow repository.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import events_log
from blockpost.crypto import Sealer
from blockpost.db.models import HookDelivery, Project, ProjectHook, Workflow
from blockpost.errors import InvalidInput, NotAuthenticated, NotFound
from blockpost.hooks import secrets
from blockpost.hooks.events import HookEvent
from blockpost.hooks.providers import PROVIDERS
from blockpost.hooks.rules import decide
from blockpost.timefmt import utcnow

REFUSED = "the delivery's signature or token does not match this project's webhook secret"


async def _project(session: AsyncSession, ref: str) -> Project | None:
    try:
        key = Project.id == str(uuid.UUID(ref))
    except ValueError:
        key = Project.name == ref
    return await session.scalar(select(Project).where(key))


async def receive(
    session: AsyncSession,
    sealer: Sealer,
    provider_name: str,
    project_ref: str,
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[HookDelivery, bool]:
    """The delivery as recorded, and whether it was a replay (recorded before).

    An unknown project, a project without a secret and a bad signature are one refusal
    (NotAuthenticated), so the hook URL tells a stranger nothing."""
    provider = PROVIDERS.get(provider_name)
    if provider is None:
        raise NotFound(f"provider {provider_name!r} is not one of {', '.join(PROVIDERS)}")
    project = await _project(session, project_ref)
    hook = await session.get(ProjectHook, project.id) if project is not None else None
    secret = secrets.opened(sealer, hook)
    if project is None or secret is None or not provider.verify(headers, body, secret):
        raise NotAuthenticated(REFUSED)
    delivery_id = provider.delivery_id(headers, body)
    seen = await session.scalar(
        select(HookDelivery).where(
            HookDelivery.project_id == project.id,
            HookDelivery.provider == provider.name,
            HookDelivery.delivery_id == delivery_id,
        )
    )
    if seen is not None:
        return seen, True
    payload = _payload(body, headers.get("content-type", ""))
    event = provider.parse(headers.get(provider.event_header, ""), payload)
    delivery = await record(session, project, provider.name, delivery_id, event)
    return delivery, False


def _payload(body: bytes, content_type: str) -> object:
    """The JSON body, or the `payload` field of a form (GitHub's and Gitea's other type)."""
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8", "replace"))
        body = (fields.get("payload") or [""])[0].encode()
    try:
        return json.loads(body)
    except ValueError:
        raise InvalidInput("body", "is not JSON (a form's payload field, or a JSON body)") from None


async def _built_before(session: AsyncSession, project_id: str, reference: str) -> bool:
    found = await session.scalar(
        select(Workflow.id)
        .where(Workflow.project_id == project_id, Workflow.reference == reference)
        .limit(1)
    )
    return found is not None


async def record(
    session: AsyncSession, project: Project, provider: str, delivery_id: str, event: HookEvent
) -> HookDelivery:
    """Decides what the event starts and stores the delivery with that decision."""
    built_before = event.kind == "branch" and await _built_before(
        session, project.id, event.reference
    )
    decision = decide(
        event,
        project.run_on,
        project.whitelist,
        project.forked_pull_requests,
        branch_built_before=built_before,
    )
    now = utcnow()
    delivery = HookDelivery(
        project_id=project.id,
        provider=provider,
        delivery_id=delivery_id,
        event=event.kind,
        action=(event.action or event.name)[:32],
        reference=event.reference[:1024],
        commit_sha=event.commit_sha[:40],
        commit_message=event.commit_message,
        commit_author=event.commit_author[:255],
        sender=event.sender[:255],
        pull_request=event.pull_request.as_json() if event.pull_request else {},
        allowed_secrets=decision.allowed_secrets,
        state=decision.state,
        reason=decision.reason,
        created_at=now,
        done_at=None if decision.state == "accepted" else now,
    )
    session.add(delivery)
    await session.flush()
    events_log.webhook_decision(
        session,
        project=project.name,
        provider=provider,
        delivery=delivery.id,
        decision=decision.state,
        reason=decision.reason,
    )
    return delivery
