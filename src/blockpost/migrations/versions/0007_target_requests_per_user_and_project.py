"""Deployment target idempotency tokens are keyed by (user, project, token), not token alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "deployment_target_requests"
PK = "pk_deployment_target_requests"

# Who made an existing request: the audit event it wrote (for an update, the first one at or
# after it; create and delete write one per target), else the target's creator or last
# updater. Its project: the target's, else the one its audit events name.
ATTRIBUTE = sa.text(
    """
    UPDATE deployment_target_requests SET
      user_id = COALESCE(
        (SELECT u.id FROM audit_events a JOIN users u ON u.uuid = a.actor_id
          WHERE a.resource_type = 'deployment_target'
            AND a.resource_id = deployment_target_requests.target_id
            AND a.action = 'deployment_target.' || CASE deployment_target_requests.operation
                WHEN 'create' THEN 'created' WHEN 'update' THEN 'updated' ELSE 'deleted' END
            AND (deployment_target_requests.operation <> 'update'
                 OR a.at >= deployment_target_requests.created_at)
          ORDER BY a.at LIMIT 1),
        (SELECT u.id FROM deployment_targets t JOIN users u
            ON u.uuid = CASE deployment_target_requests.operation
                WHEN 'create' THEN t.created_by ELSE t.updated_by END
          WHERE t.id = deployment_target_requests.target_id)),
      project_id = COALESCE(
        (SELECT t.project_id FROM deployment_targets t
          WHERE t.id = deployment_target_requests.target_id),
        (SELECT MAX(a.project_id) FROM audit_events a
          WHERE a.resource_type = 'deployment_target'
            AND a.resource_id = deployment_target_requests.target_id))
    """
)

# Downgrading, a token is unique again: the earliest request that used it keeps it.
KEEP_FIRST = sa.text(
    """
    DELETE FROM deployment_target_requests WHERE EXISTS (
      SELECT 1 FROM deployment_target_requests AS earlier
       WHERE earlier.unique_token = deployment_target_requests.unique_token
         AND (earlier.created_at < deployment_target_requests.created_at
              OR (earlier.created_at = deployment_target_requests.created_at
                  AND (earlier.user_id < deployment_target_requests.user_id
                       OR (earlier.user_id = deployment_target_requests.user_id
                           AND earlier.project_id < deployment_target_requests.project_id)))))
    """
)


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("project_id", sa.String(length=36), nullable=True))
    op.execute(ATTRIBUTE)
    # Only a request on a target deleted before the audit log existed names no one; a retry
    # of it could only be a delete answered 200 instead of 404.
    op.execute(
        sa.text(
            "DELETE FROM deployment_target_requests WHERE user_id IS NULL OR project_id IS NULL"
        )
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("project_id", existing_type=sa.String(length=36), nullable=False)
        batch.drop_constraint(PK, type_="primary")
        batch.create_primary_key(PK, ["user_id", "project_id", "unique_token"])


def downgrade() -> None:
    op.execute(KEEP_FIRST)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(PK, type_="primary")
        batch.create_primary_key(PK, ["unique_token"])
        batch.drop_column("project_id")
        batch.drop_column("user_id")
