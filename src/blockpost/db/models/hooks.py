"""Webhook deliveries (and polled ref changes): what arrived, and what was decided."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, UUIDColumn, new_uuid
from blockpost.timefmt import utcnow


class ProjectHook(Base):
    """A project's webhook secret and polling: a row once either is set."""

    __tablename__ = "project_hooks"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    # sealed, not hashed: GitHub's, Gitea's and Bitbucket's HMAC needs the secret itself
    secret: Mapped[str] = mapped_column(Text, default="")
    rotated_at: Mapped[datetime | None]
    # spec.repository.poll_interval: seconds between fetches of the mirror; 0 is never
    poll_interval: Mapped[int] = mapped_column(default=0)
    # the branch and tag heads the last poll saw, {ref: sha}; None before the first poll
    polled_heads: Mapped[dict[str, str] | None] = mapped_column(JSON)
    polled_at: Mapped[datetime | None] = mapped_column(index=True)


class HookDelivery(Base):
    __tablename__ = "hook_deliveries"
    __table_args__ = (
        # a replayed delivery id is recognised, not recorded (and run) twice
        UniqueConstraint("project_id", "provider", "delivery_id"),
        Index("ix_hook_deliveries_project_created", "project_id", "created_at"),
        Index("ix_hook_deliveries_state", "state"),
    )

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))  # github | gitlab | gitea | bitbucket | poll
    delivery_id: Mapped[str] = mapped_column(String(255))  # the forge's, or the body's digest
    event: Mapped[str] = mapped_column(String(32))  # branch | tag | pull_request | ping | ...
    action: Mapped[str] = mapped_column(String(32), default="")
    reference: Mapped[str] = mapped_column(String(1024), default="")
    commit_sha: Mapped[str] = mapped_column(String(40), default="")
    commit_message: Mapped[str] = mapped_column(Text, default="")
    commit_author: Mapped[str] = mapped_column(String(255), default="")
    sender: Mapped[str] = mapped_column(String(255), default="")
    # a pull request's number, title, head and base, whether it is a fork's or a draft
    pull_request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # None: every secret; a list: only these (a forked pull request's allowed secrets)
    allowed_secrets: Mapped[list[str] | None] = mapped_column(JSON)
    # accepted (to start) -> started | failed; or skipped / ignored at once
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    workflow_id: Mapped[str | None] = mapped_column(UUIDColumn)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
