"""Promotions, deployment targets and their history; pipelines know their promotions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:47:27.553236
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_target_requests",
        sa.Column("unique_token", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unique_token", name=op.f("pk_deployment_target_requests")),
    )
    op.create_table(
        "deployment_targets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("bookmark_parameter1", sa.String(length=255), nullable=False),
        sa.Column("bookmark_parameter2", sa.String(length=255), nullable=False),
        sa.Column("bookmark_parameter3", sa.String(length=255), nullable=False),
        sa.Column("subject_rules", sa.JSON(), nullable=False),
        sa.Column("object_rules", sa.JSON(), nullable=False),
        sa.Column("cordoned", sa.Boolean(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("updated_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_deployment_targets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_targets")),
        sa.UniqueConstraint("project_id", "name", name="uq_deployment_targets_name"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("target_name", sa.String(length=255), nullable=False),
        sa.Column("triggered_by", sa.String(length=255), nullable=False),
        sa.Column("triggered_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("switch_id", sa.String(length=36), nullable=False),
        sa.Column("prev_pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("git_ref_type", sa.String(length=16), nullable=False),
        sa.Column("git_ref_label", sa.String(length=1024), nullable=False),
        sa.Column("env_vars", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["deployment_targets.id"],
            name=op.f("fk_deployments_target_id_deployment_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deployments_target_triggered", ["target_id", "triggered_at"], unique=False
        )

    op.create_table(
        "promotions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("triggered_by", sa.String(length=255), nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("scheduled_pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("error_description", sa.Text(), nullable=False),
        sa.Column("triggered_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_promotions_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    with op.batch_alter_table("promotions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_promotions_pipeline_triggered", ["pipeline_id", "triggered_at"], unique=False
        )

    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("promotions", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("promotion_of", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("promoted_by", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("parameters", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("ancestors", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("target_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.drop_column("target_id")
        batch_op.drop_column("ancestors")
        batch_op.drop_column("parameters")
        batch_op.drop_column("promoted_by")
        batch_op.drop_column("promotion_of")
        batch_op.drop_column("promotions")

    with op.batch_alter_table("promotions", schema=None) as batch_op:
        batch_op.drop_index("ix_promotions_pipeline_triggered")

    op.drop_table("promotions")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index("ix_deployments_target_triggered")

    op.drop_table("deployments")
    op.drop_table("deployment_targets")
    op.drop_table("deployment_target_requests")
