"""The outbox: when a pipeline ends, a delivery row for every endpoint of every matching
rule, written in the transaction that ends it (so a delivery is never lost nor invented)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import (
    Notification,
    NotificationDelivery,
    Pipeline,
    Project,
    User,
    Workflow,
)
from blockpost.notify.rules import DEFAULT_RETRIES, Subject, matches
from blockpost.services.principal import Principal
from blockpost.services.projects import visible_to


def _subject(pipeline: Pipeline, workflow: Workflow, project: Project) -> Subject:
    tag = workflow.ref_type == "tag"
    return Subject(
        project=project.name,
        branch=None if tag else workflow.branch_name,
        tag=workflow.ref_name if tag else None,
        pipeline_file=pipeline.yaml_file_path,
        result=pipeline.result or "",
    )


async def _sees(session: AsyncSession, user_id: int | None, project_id: str) -> bool:
    """Whether the notification's creator may see the project now (Semaphore checks the
    creator's project.view right before it sends)."""
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        return False
    visible = exists().where(Project.id == project_id, visible_to(Principal.of(user)))
    return bool(await session.scalar(select(visible)))


def _deliveries(
    notification: Notification, rule: dict[str, Any], pipeline_id: str
) -> list[NotificationDelivery]:
    common = {
        "notification_id": notification.id,
        "rule_name": rule["name"],
        "pipeline_id": pipeline_id,
    }
    rows = []
    slack = rule["notify"]["slack"]
    if slack["endpoint"]:
        for channel in slack["channels"] or [None]:
            rows.append(
                NotificationDelivery(
                    **common,
                    kind="slack",
                    endpoint=slack["endpoint"],
                    channel=channel,
                    max_attempts=1 + DEFAULT_RETRIES,
                )
            )
    webhook = rule["notify"]["webhook"]
    if webhook["endpoint"]:
        rows.append(
            NotificationDelivery(
                **common,
                kind="webhook",
                endpoint=webhook["endpoint"],
                method=(webhook["action"] or "post").upper(),
                secret_name=webhook["secret"],
                timeout_ms=webhook["timeout"],
                max_attempts=1 + (webhook["retries"] or DEFAULT_RETRIES),
            )
        )
    return rows


async def enqueue(session: AsyncSession, pipeline: Pipeline) -> int:
    """Adds the deliveries for a pipeline that has just ended; returns how many."""
    notifications = (await session.scalars(select(Notification))).all()
    if not notifications:
        return 0
    workflow = await session.get(Workflow, pipeline.workflow_id)
    project = await session.get(Project, pipeline.project_id)
    if workflow is None or project is None:
        return 0
    subject = _subject(pipeline, workflow, project)
    added = 0
    for notification in notifications:
        hits = [rule for rule in notification.rules if matches(rule, subject)]
        if not hits or not await _sees(session, notification.creator_id, project.id):
            continue
        for rule in hits:
            rows = _deliveries(notification, rule, pipeline.id)
            session.add_all(rows)
            added += len(rows)
    return added
