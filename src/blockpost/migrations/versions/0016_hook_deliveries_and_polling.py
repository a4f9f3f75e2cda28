"""Webhooks and polling: hook deliveries, each project's hook secret and poll state, and
the secrets a workflow may use.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 19:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=1024), nullable=False),
        sa.Column("commit_sha", sa.String(length=40), nullable=False),
        sa.Column("commit_message", sa.Text(), nullable=False),
        sa.Column("commit_author", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("pull_request", sa.JSON(), nullable=False),
        sa.Column("allowed_secrets", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_hook_deliveries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_deliveries")),
        sa.UniqueConstraint(
            "project_id",
            "provider",
            "delivery_id",
            name=op.f("uq_hook_deliveries_project_id"),
        ),
    )
    op.create_index(
        "ix_hook_deliveries_project_created",
        "hook_deliveries",
        ["project_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_hook_deliveries_state", "hook_deliveries", ["state"], unique=False)
    op.create_table(
        "project_hooks",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("rotated_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("poll_interval", sa.Integer(), nullable=False),
        sa.Column("polled_heads", sa.JSON(), nullable=True),
        sa.Column("polled_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_hooks_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_hooks")),
    )
    op.create_index(
        op.f("ix_project_hooks_polled_at"), "project_hooks", ["polled_at"], unique=False
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowed_secrets", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_column("allowed_secrets")
    op.drop_index(op.f("ix_project_hooks_polled_at"), table_name="project_hooks")
    op.drop_table("project_hooks")
    op.drop_index("ix_hook_deliveries_state", table_name="hook_deliveries")
    op.drop_index("ix_hook_deliveries_project_created", table_name="hook_deliveries")
    op.drop_table("hook_deliveries")
