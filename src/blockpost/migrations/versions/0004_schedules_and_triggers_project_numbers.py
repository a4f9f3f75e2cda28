"""Schedules and their triggers; projects get an integer number.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:33:41.730057
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("branch", sa.String(length=1024), nullable=False),
        sa.Column("at", sa.String(length=255), nullable=False),
        sa.Column("pipeline_file", sa.String(length=1024), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pause_toggled_by", sa.String(length=36), nullable=False),
        sa.Column("pause_toggled_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("requester_id", sa.String(length=36), nullable=False),
        sa.Column("next_run_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("inserted_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_schedules_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("project_id", "name", name="uq_schedules_project_name"),
        sa.UniqueConstraint("project_id", "number", name="uq_schedules_project_number"),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_next_run_at"), ["next_run_at"], unique=False)

    op.create_table(
        "schedule_triggers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("schedule_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("tick", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("branch", sa.String(length=1024), nullable=False),
        sa.Column("pipeline_file", sa.String(length=1024), nullable=False),
        sa.Column("run_now_requester_id", sa.String(length=36), nullable=False),
        sa.Column("scheduling_status", sa.String(length=16), nullable=False),
        sa.Column("scheduled_workflow_id", sa.String(length=36), nullable=False),
        sa.Column("error_description", sa.Text(), nullable=False),
        sa.Column("triggered_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_triggers_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_triggers")),
        sa.UniqueConstraint("schedule_id", "tick", name=op.f("uq_schedule_triggers_schedule_id")),
    )
    with op.batch_alter_table("schedule_triggers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_schedule_triggers_schedule_triggered", ["schedule_id", "triggered_at"], unique=False
        )

    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parameters", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
    # existing projects are numbered 1, 2, ... in the order they were created
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id FROM projects ORDER BY created_at, id")).all()
    for number, (project_id,) in enumerate(rows, start=1):
        bind.execute(
            sa.text("UPDATE projects SET number = :number WHERE id = :id"),
            {"number": number, "id": project_id},
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_projects_number"), ["number"])


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_projects_number"), type_="unique")
        batch_op.drop_column("number")
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_column("parameters")

    with op.batch_alter_table("schedule_triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_triggers_schedule_triggered")

    op.drop_table("schedule_triggers")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_next_run_at"))

    op.drop_table("schedules")
