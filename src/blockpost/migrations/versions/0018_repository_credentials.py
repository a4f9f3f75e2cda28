"""Private repositories: a project's deploy key (sealed private half, public line) and HTTPS
credential (sealed).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 20:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_COLUMNS = ("deploy_key", "deploy_key_public", "https_credential")


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(
                sa.Column(name, sa.Text(), nullable=False, server_default=sa.text("''"))
            )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
