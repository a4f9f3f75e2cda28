"""Reserved for issue 17 (notifications and dashboards); filled in by the change that needs it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
