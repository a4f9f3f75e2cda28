"""Tasks: schedules get a description, a recurring flag and parameter definitions; triggers
record their git reference and parameter values.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _rewrite_parameters(convert: Any) -> None:
    bind = op.get_bind()
    schedules = sa.table("schedules", sa.column("id"), sa.column("parameters", sa.JSON()))
    for schedule_id, parameters in bind.execute(sa.select(schedules.c.id, schedules.c.parameters)):
        value = json.loads(parameters) if isinstance(parameters, str) else parameters
        bind.execute(
            schedules.update()
            .where(schedules.c.id == schedule_id)
            .values(parameters=convert(value or {}))
        )


def upgrade() -> None:
    # plain ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping the
    # old schedules table would cascade to the triggers
    op.add_column(
        "schedules", sa.Column("description", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "schedules", sa.Column("recurring", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    # {NAME: value} becomes Semaphore's definitions, the value their default
    _rewrite_parameters(
        lambda values: [
            {
                "name": name,
                "required": False,
                "description": "",
                "default_value": str(value),
                "options": [],
            }
            for name, value in values.items()
        ]
    )
    op.add_column(
        "schedule_triggers",
        sa.Column("reference", sa.String(length=1024), nullable=False, server_default=""),
    )
    op.add_column(
        "schedule_triggers",
        sa.Column("parameter_values", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.execute("UPDATE schedule_triggers SET reference = 'refs/heads/' || branch")


def downgrade() -> None:
    op.drop_column("schedule_triggers", "parameter_values")
    op.drop_column("schedule_triggers", "reference")
    _rewrite_parameters(
        lambda definitions: {item["name"]: item.get("default_value", "") for item in definitions}
    )
    # plain DROP COLUMN (SQLite 3.35+), not a batch, for the reason upgrade gives
    op.drop_column("schedules", "recurring")
    op.drop_column("schedules", "description")
