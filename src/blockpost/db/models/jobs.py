"""Jobs as the dispatcher sees them: what to run, where, their state, and their log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, UUIDColumn, new_uuid
from blockpost.timefmt import utcnow


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # The claim reads the oldest queued job of one agent type.
        Index("ix_jobs_claim", "agent_type", "state", "queued_at"),
    )

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    # set for pipeline jobs; standalone jobs (POST /jobs) have neither
    pipeline_id: Mapped[str | None] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    block_id: Mapped[str | None] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(default=0)  # position in its block
    agent_type: Mapped[str] = mapped_column(String(100))
    machine_type: Mapped[str] = mapped_column(String(100), default="")
    os_image: Mapped[str] = mapped_column(String(100), default="")
    # Its YAML asks for containers: only agents that can run them may claim it.
    needs_containers: Mapped[bool] = mapped_column(default=False)
    # pending (waiting for its block) -> queued -> running -> finished
    state: Mapped[str] = mapped_column(String(16), default="queued")
    result: Mapped[str | None] = mapped_column(String(16))  # passed | failed | stopped
    result_reason: Mapped[str] = mapped_column(String(255), default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    execution_time_limit: Mapped[int | None]  # seconds
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    agent_name: Mapped[str] = mapped_column(String(80), default="")
    agent_ip: Mapped[str] = mapped_column(String(64), default="")
    log_token_hash: Mapped[str | None] = mapped_column(String(64))
    log_bytes: Mapped[int] = mapped_column(default=0)
    log_events: Mapped[int] = mapped_column(default=0)
    stop_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobLogChunk(Base):
    """One pushed batch of event lines: events `first` .. `first + count - 1` of the log."""

    __tablename__ = "job_log_chunks"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    first: Mapped[int] = mapped_column(primary_key=True)
    count: Mapped[int]
    size: Mapped[int]  # bytes of event text, for the log's size cap
    body: Mapped[str] = mapped_column(Text)  # the event lines, joined by "\n"
