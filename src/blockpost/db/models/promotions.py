"""Promotions (one pipeline promoting the next), deployment targets and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, UUIDColumn, new_uuid
from blockpost.timefmt import utcnow


class Promotion(Base):
    """One promotion attempt of a pipeline (manual or automatic)."""

    __tablename__ = "promotions"
    __table_args__ = (Index("ix_promotions_pipeline_triggered", "pipeline_id", "triggered_at"),)

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # passed | failed
    triggered_by: Mapped[str] = mapped_column(String(255))  # a user's uuid or Pipeline Done request
    override: Mapped[bool] = mapped_column(default=False)
    scheduled_pipeline_id: Mapped[str] = mapped_column(String(36), default="")
    error_description: Mapped[str] = mapped_column(Text, default="")
    triggered_at: Mapped[datetime] = mapped_column(default=utcnow)
    scheduled_at: Mapped[datetime | None]


class DeploymentTarget(Base):
    __tablename__ = "deployment_targets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_deployment_targets_name"),)

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2048), default="")
    bookmark_parameter1: Mapped[str] = mapped_column(String(255), default="")
    bookmark_parameter2: Mapped[str] = mapped_column(String(255), default="")
    bookmark_parameter3: Mapped[str] = mapped_column(String(255), default="")
    subject_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    object_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    cordoned: Mapped[bool] = mapped_column(default=False)
    sealed: Mapped[str] = mapped_column(Text)  # crypto.Sealer: {"env_vars": [...], "files": [...]}
    created_by: Mapped[str] = mapped_column(String(36))
    updated_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TargetRequest(Base):
    """An idempotency token one user already used on a target of one project (create, update
    or delete). Keyed by user and project: the same string from another user, or in another
    project, is another request."""

    __tablename__ = "deployment_target_requests"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    project_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    unique_token: Mapped[str] = mapped_column(String(255), primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(36))  # kept after the target is deleted
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deployment(Base):
    """One promotion attempt through a target, allowed (STARTED) or refused (FAILED)."""

    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_target_triggered", "target_id", "triggered_at"),)

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    target_id: Mapped[str] = mapped_column(ForeignKey("deployment_targets.id", ondelete="CASCADE"))
    target_name: Mapped[str] = mapped_column(String(255))
    triggered_by: Mapped[str] = mapped_column(String(255))
    triggered_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16))  # STARTED | FAILED
    state_message: Mapped[str] = mapped_column(Text, default="")
    switch_id: Mapped[str] = mapped_column(String(36), default="")
    prev_pipeline_id: Mapped[str] = mapped_column(String(36), default="")
    pipeline_id: Mapped[str] = mapped_column(String(36), default="")
    git_ref_type: Mapped[str] = mapped_column(String(16))  # branch | tag | pr
    git_ref_label: Mapped[str] = mapped_column(String(1024))
    env_vars: Mapped[list[dict[str, str]]] = mapped_column(JSON)
