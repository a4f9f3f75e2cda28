"""A project's cache entries: the archives its jobs stored with `cache store`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base
from blockpost.timefmt import utcnow


class CacheEntry(Base):
    __tablename__ = "cache_entries"
    # eviction takes a project's least recently used entries first
    __table_args__ = (Index("ix_cache_entries_project_id_used_at", "project_id", "used_at"),)

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # how the tar archive is compressed: "zstd" or "gzip"
    compression: Mapped[str] = mapped_column(String(8))
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
