"""Workflows, their pipelines and the pipelines' blocks: what the engine drives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, UUIDColumn, new_uuid
from blockpost.timefmt import utcnow


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        # reschedule's idempotency: one new workflow per (original, request token)
        UniqueConstraint("rerun_of", "request_token"),
        Index("ix_workflows_project_created", "project_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    requester_id: Mapped[str] = mapped_column(UUIDColumn)  # the user's uuid
    requester_name: Mapped[str] = mapped_column(String(100))
    hook_id: Mapped[str] = mapped_column(UUIDColumn, default=new_uuid)
    branch_id: Mapped[str] = mapped_column(UUIDColumn)
    reference: Mapped[str] = mapped_column(String(1024))
    ref_type: Mapped[str] = mapped_column(String(16))  # branch | tag | pull-request
    ref_name: Mapped[str] = mapped_column(String(1024))
    branch_name: Mapped[str] = mapped_column(String(1024))
    commit_sha: Mapped[str] = mapped_column(String(40))
    commit_message: Mapped[str] = mapped_column(Text, default="")  # read from git at the start
    pipeline_file: Mapped[str] = mapped_column(String(1024))
    triggered_by: Mapped[str] = mapped_column(String(16), default="api")  # api|schedule|hook
    # None: the pipelines' secrets as named; a list: only these (a forked pull request's)
    allowed_secrets: Mapped[list[str] | None] = mapped_column(JSON)
    parameters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # env for every job
    initial_ppl_id: Mapped[str] = mapped_column(UUIDColumn)
    rerun_of: Mapped[str | None] = mapped_column(UUIDColumn)
    request_token: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pipeline(Base):
    __tablename__ = "pipelines"
    __table_args__ = (
        Index("ix_pipelines_project_created", "project_id", "created_at"),
        Index("ix_pipelines_state", "state"),
        Index("ix_pipelines_queue", "queue_key", "state"),
        # partial rebuild's idempotency: one new pipeline per (original, request token)
        # an index, not a constraint: SQLite adds one without rebuilding the table
        Index("uq_pipelines_partial_rerun_of", "partial_rerun_of", "request_token", unique=True),
    )

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), default="")
    yaml_file_path: Mapped[str] = mapped_column(String(1024))
    # initializing -> pending -> queuing -> running -> (stopping) -> done
    state: Mapped[str] = mapped_column(String(16), default="initializing")
    result: Mapped[str | None] = mapped_column(String(16))  # passed|failed|stopped|canceled
    result_reason: Mapped[str | None] = mapped_column(String(16))
    error_description: Mapped[str] = mapped_column(Text, default="")
    # "" | "stop" (running: stop jobs) | "cancel" (let running blocks end, start no more)
    terminate_request: Mapped[str] = mapped_column(String(8), default="")
    terminate_reason: Mapped[str] = mapped_column(String(16), default="")
    terminated_by: Mapped[str] = mapped_column(String(100), default="")
    queue_key: Mapped[str] = mapped_column(String(1200), default="")
    queue_parallel: Mapped[bool] = mapped_column(default=False)
    # decided at initialisation from the YAML's `when` conditions
    fail_fast: Mapped[str] = mapped_column(String(8), default="")  # "" | stop | cancel
    auto_cancel: Mapped[str] = mapped_column(String(8), default="")  # "" | queued | running
    execution_time_limit: Mapped[int | None]  # seconds
    # the file's promotions, as engine/promotions.py stores them at initialisation
    promotions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # set on a pipeline a promotion started
    promotion_of: Mapped[str | None] = mapped_column(UUIDColumn)
    promoted_by: Mapped[str] = mapped_column(String(255), default="")
    # the uuid of the user who started this pipeline (workflow, promotion or partial
    # rebuild); None for an auto-promotion, and for pipelines from before it was kept
    triggerer_user_id: Mapped[str | None] = mapped_column(UUIDColumn)
    # set on a pipeline a partial rebuild started, with the rebuild's request token
    partial_rerun_of: Mapped[str | None] = mapped_column(UUIDColumn)
    request_token: Mapped[str | None] = mapped_column(String(255))
    parameters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    ancestors: Mapped[list[str]] = mapped_column(JSON, default=list)  # first pipeline first
    target_id: Mapped[str | None] = mapped_column(UUIDColumn)  # its secrets join every job
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    pending_at: Mapped[datetime | None]
    queuing_at: Mapped[datetime | None]
    running_at: Mapped[datetime | None]
    stopping_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


class Block(Base):
    __tablename__ = "blocks"

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    pipeline_id: Mapped[str] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int]
    name: Mapped[str] = mapped_column(String(255))
    build_req_id: Mapped[str] = mapped_column(UUIDColumn, default=new_uuid)
    dependencies: Mapped[list[str]] = mapped_column(JSON)
    skip: Mapped[bool] = mapped_column(default=False)
    fail_fast: Mapped[str] = mapped_column(String(8), default="")  # "" | stop | cancel
    # waiting -> running -> (stopping) -> done
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    result: Mapped[str | None] = mapped_column(String(16))
    result_reason: Mapped[str | None] = mapped_column(String(16))
    stop_reason: Mapped[str] = mapped_column(String(16), default="")
    error_description: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
