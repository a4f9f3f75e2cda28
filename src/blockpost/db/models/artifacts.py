"""A project's artifact retention policy: Semaphore's rules for each artifact level."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base
from blockpost.timefmt import utcnow


class ArtifactRetentionPolicy(Base):
    __tablename__ = "artifact_retention_policies"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    # Each a list of {"selector": glob, "age": seconds}; the first rule whose selector
    # matches an artifact decides its fate, as in Semaphore's artifacthub.
    project_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    workflow_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    job_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
