"""Dashboards: named lists of widgets (pipeline and workflow lists, charts) to show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, Timestamps, UUIDColumn, new_uuid


class Dashboard(Timestamps, Base):
    __tablename__ = "dashboards"

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    creator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    widgets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
