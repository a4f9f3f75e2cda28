"""Partial rebuilds: the pipeline a rebuild started knows the one it reruns, and the
request token that made it (one new pipeline per original and token).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns and a unique index: SQLite adds both in place. A unique constraint would make
    # batch mode rebuild `pipelines`, and dropping the old table cascades to its blocks.
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("partial_rerun_of", sa.String(36), nullable=True))
        batch.add_column(sa.Column("request_token", sa.String(255), nullable=True))
    op.create_index(
        "uq_pipelines_partial_rerun_of",
        "pipelines",
        ["partial_rerun_of", "request_token"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_pipelines_partial_rerun_of", table_name="pipelines")
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("request_token")
        batch.drop_column("partial_rerun_of")
