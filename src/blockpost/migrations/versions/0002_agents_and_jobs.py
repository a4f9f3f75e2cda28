"""Self-hosted agent types, agents, jobs and job log events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("assignment_origin", sa.String(length=40), nullable=False),
        sa.Column("release_after", sa.Integer(), nullable=False),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_types")),
        sa.UniqueConstraint("name", name=op.f("uq_agent_types_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agent_types_token_hash")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("agent_type_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("os", sa.String(length=255), nullable=False),
        sa.Column("arch", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("single_job", sa.Boolean(), nullable=False),
        sa.Column("idle_timeout", sa.Integer(), nullable=False),
        sa.Column("interruption_grace_period", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("connected_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sync_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sync_state", sa.String(length=32), nullable=False),
        sa.Column(
            "last_state_change_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("disabled_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("interrupted_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disconnected_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_type_id"],
            ["agent_types.id"],
            name=op.f("fk_agents_agent_type_id_agent_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agents_token_hash")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agents_agent_type_id"), ["agent_type_id"], unique=False
        )

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=True),
        sa.Column("agent_type", sa.String(length=100), nullable=False),
        sa.Column("machine_type", sa.String(length=100), nullable=False),
        sa.Column("os_image", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("result_reason", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("execution_time_limit", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_name", sa.String(length=80), nullable=False),
        sa.Column("agent_ip", sa.String(length=64), nullable=False),
        sa.Column("log_token_hash", sa.String(length=64), nullable=True),
        sa.Column("log_bytes", sa.Integer(), nullable=False),
        sa.Column("log_events", sa.Integer(), nullable=False),
        sa.Column("stop_requested_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_jobs_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_jobs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_claim", ["agent_type", "state", "queued_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_project_id"), ["project_id"], unique=False)

    op.create_table(
        "job_log_chunks",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_job_log_chunks_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "first", name=op.f("pk_job_log_chunks")),
    )


def downgrade() -> None:
    op.drop_table("job_log_chunks")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_project_id"))
        batch_op.drop_index("ix_jobs_claim")

    op.drop_table("jobs")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_agent_type_id"))

    op.drop_table("agents")
    op.drop_table("agent_types")
