"""Artifact retention policies, one per project.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_retention_policies",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("project_rules", sa.JSON(), nullable=False),
        sa.Column("workflow_rules", sa.JSON(), nullable=False),
        sa.Column("job_rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_artifact_retention_policies_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_artifact_retention_policies")),
    )


def downgrade() -> None:
    op.drop_table("artifact_retention_policies")
