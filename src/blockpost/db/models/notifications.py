"""Notifications (rules that match finished pipelines) and their delivery outbox and log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, Timestamps, UUIDColumn, new_uuid
from blockpost.timefmt import utcnow


class Notification(Timestamps, Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # Who last saved it: deliveries go only for projects this user can see (as Semaphore's
    # creator_id check). A deleted user sees nothing, so their notifications go silent.
    creator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # spec.rules


class NotificationDelivery(Base):
    """One message to one endpoint: written with the pipeline's end (a commit status: with
    its start, a block's end or its end), sent by notify/sender."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_due", "state", "next_attempt_at"),
        Index("ix_notification_deliveries_log", "notification_id", "id"),
        Index("ix_notification_deliveries_project", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a commit status, which belongs to its project instead
    notification_id: Mapped[str | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    rule_name: Mapped[str] = mapped_column(String(255), default="")
    pipeline_id: Mapped[str] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # slack | webhook | commit_status
    # a commit status's context and state (pending|success|failure|error); "" otherwise
    context: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="")
    endpoint: Mapped[str] = mapped_column(String(2048))
    channel: Mapped[str | None] = mapped_column(String(255))  # a Slack channel, if named
    method: Mapped[str] = mapped_column(String(8), default="POST")
    # the exact bytes sent (and signed), built at the first attempt and kept for the retries
    body: Mapped[str] = mapped_column(Text, default="")
    # X-Semaphore-Webhook-Id: the same on every attempt, so a receiver can drop repeats
    message_id: Mapped[str] = mapped_column(UUIDColumn, default=new_uuid)
    # the name of the global secret whose WEBHOOK_SECRET signs the body; "" for none
    secret_name: Mapped[str] = mapped_column(String(255), default="")
    timeout_ms: Mapped[int] = mapped_column(default=0)  # 0: the sender's default
    # |delivered|failed, or superseded: a newer status of its context replaced it unsent
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]  # of the last attempt that got an answer
    error: Mapped[str] = mapped_column(Text, default="")  # of the last failed attempt
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
