"""Workflow and pipeline fields Semaphore shows: a workflow's commit message, and who
started each pipeline (its `triggerer`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Workflows from before this were never asked for their message: blank, not guessed.
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("commit_message", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("triggerer_user_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("triggerer_user_id")
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("commit_message")
