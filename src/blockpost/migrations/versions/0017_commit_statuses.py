"""Commit statuses: a project's status pipeline files and sealed token, and commit statuses
in the notification outbox (a project's, not a notification's).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status_pipeline_files", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
            )
        )
        batch_op.add_column(
            sa.Column("status_token", sa.Text(), nullable=False, server_default=sa.text("''"))
        )
    # What the API showed for every project until now (Semaphore's default at creation).
    projects = sa.table(
        "projects",
        sa.column("id", sa.String),
        sa.column("pipeline_file", sa.String),
        sa.column("status_pipeline_files", sa.JSON),
    )
    bind = op.get_bind()
    for project_id, path in bind.execute(sa.select(projects.c.id, projects.c.pipeline_file)):
        bind.execute(
            projects.update()
            .where(projects.c.id == project_id)
            .values(status_pipeline_files=[{"path": path, "level": "pipeline"}])
        )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.alter_column("notification_id", existing_type=sa.String(36), nullable=True)
        batch_op.add_column(sa.Column("project_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("context", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            op.f("fk_notification_deliveries_project_id_projects"),
            "projects",
            ["project_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_notification_deliveries_project", ["project_id", "id"], unique=False
        )


def downgrade() -> None:
    deliveries = sa.table("notification_deliveries", sa.column("notification_id", sa.String))
    op.execute(deliveries.delete().where(deliveries.c.notification_id.is_(None)))
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_deliveries_project")
        batch_op.drop_constraint(
            op.f("fk_notification_deliveries_project_id_projects"), type_="foreignkey"
        )
        batch_op.drop_column("status")
        batch_op.drop_column("context")
        batch_op.drop_column("project_id")
        batch_op.alter_column("notification_id", existing_type=sa.String(36), nullable=False)
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("status_token")
        batch_op.drop_column("status_pipeline_files")
