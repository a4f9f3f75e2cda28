"""Container jobs go only to agents that can run them: agents say whether they can, jobs
whether they need to.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Agents registered before this knew no such field: capable, as the official agent is.
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("can_run_containers", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    # Jobs queued before this ran on the host whatever their YAML said; they still may.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("needs_containers", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("needs_containers")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("can_run_containers")
