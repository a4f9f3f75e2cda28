"""Cache entries: the archives a project's jobs stored with `cache store`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 19:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_entries",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("compression", sa.String(length=8), nullable=False),
        sa.Column("stored_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_cache_entries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "name", name=op.f("pk_cache_entries")),
    )
    op.create_index(
        "ix_cache_entries_project_id_used_at",
        "cache_entries",
        ["project_id", "used_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_cache_entries_project_id_used_at", table_name="cache_entries")
    op.drop_table("cache_entries")
