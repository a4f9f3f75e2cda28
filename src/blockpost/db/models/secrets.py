"""Secrets: named env vars and files, sealed at rest; global or of one project."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, Timestamps, UUIDColumn, new_uuid


class Secret(Timestamps, Base):
    __tablename__ = "secrets"
    __table_args__ = (
        # one name per scope; "" stands for the global scope so the constraint holds there too
        Index("uq_secrets_scope_name", "scope", "name", unique=True),
    )

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(36), default="")  # "" or the project id
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(Text, default="")
    sealed: Mapped[str] = mapped_column(Text)  # {"env_vars": [...], "files": [...]}
