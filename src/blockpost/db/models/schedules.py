"""Schedules (cron-driven workflow runs) and their triggers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, UUIDColumn, new_uuid
from blockpost.timefmt import utcnow


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_schedules_project_name"),
        UniqueConstraint("project_id", "number", name="uq_schedules_project_number"),
    )

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]  # per project: the "template id" of the task-launch API
    name: Mapped[str] = mapped_column(String(255))
    branch: Mapped[str] = mapped_column(String(1024))  # "" when not recurring
    at: Mapped[str] = mapped_column(String(255))  # cron, UTC; "" when not recurring
    pipeline_file: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str] = mapped_column(Text, default="")
    # a task that is not recurring only runs when asked (run_now), on a branch given then
    recurring: Mapped[bool] = mapped_column(default=True)
    # Semaphore's parameter definitions: [{name, required, description, default_value, options}]
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    paused: Mapped[bool] = mapped_column(default=False)
    pause_toggled_by: Mapped[str] = mapped_column(String(36), default="")
    pause_toggled_at: Mapped[datetime | None]
    requester_id: Mapped[str] = mapped_column(UUIDColumn)
    # the next cron tick to fire; moved on by the scheduler when it fires
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    inserted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduleTrigger(Base):
    """One firing (a cron tick or a run now); the integer id is also the task id."""

    __tablename__ = "schedule_triggers"
    __table_args__ = (
        # a cron tick fires once, however many replicas try (run-now rows have no tick)
        UniqueConstraint("schedule_id", "tick"),
        Index("ix_schedule_triggers_schedule_triggered", "schedule_id", "triggered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(UUIDColumn)
    tick: Mapped[datetime | None]
    branch: Mapped[str] = mapped_column(String(1024))  # "" when a tag ran
    reference: Mapped[str] = mapped_column(String(1024), default="")  # refs/heads/… or refs/tags/…
    pipeline_file: Mapped[str] = mapped_column(String(1024))
    parameter_values: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    run_now_requester_id: Mapped[str] = mapped_column(String(36), default="")
    scheduling_status: Mapped[str] = mapped_column(String(16), default="")  # passed | failed
    scheduled_workflow_id: Mapped[str] = mapped_column(String(36), default="")
    error_description: Mapped[str] = mapped_column(Text, default="")
    triggered_at: Mapped[datetime] = mapped_column(default=utcnow)
    scheduled_at: Mapped[datetime | None]
