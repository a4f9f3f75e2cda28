"""The audit log: one row per change to a token, user, secret or target, and per promotion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, UUIDColumn
from blockpost.timefmt import utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_resource", "resource_type", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # no foreign keys: the log outlives the users, projects and resources it names
    actor_id: Mapped[str | None] = mapped_column(UUIDColumn)  # None: the system (CLI, engine)
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))  # e.g. "secret.updated"
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    resource_name: Mapped[str] = mapped_column(String(255), default="")
    project_id: Mapped[str | None] = mapped_column(UUIDColumn)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never secret values
