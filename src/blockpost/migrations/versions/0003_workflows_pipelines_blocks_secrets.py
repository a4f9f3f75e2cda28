"""Workflows, pipelines, blocks and secrets; jobs belong to pipelines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:46:44.157872
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_secrets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secrets")),
    )
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_secrets_project_id"), ["project_id"], unique=False)
        batch_op.create_index("uq_secrets_scope_name", ["scope", "name"], unique=True)

    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.String(length=36), nullable=False),
        sa.Column("requester_name", sa.String(length=100), nullable=False),
        sa.Column("hook_id", sa.String(length=36), nullable=False),
        sa.Column("branch_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=1024), nullable=False),
        sa.Column("ref_type", sa.String(length=16), nullable=False),
        sa.Column("ref_name", sa.String(length=1024), nullable=False),
        sa.Column("branch_name", sa.String(length=1024), nullable=False),
        sa.Column("commit_sha", sa.String(length=40), nullable=False),
        sa.Column("pipeline_file", sa.String(length=1024), nullable=False),
        sa.Column("triggered_by", sa.String(length=16), nullable=False),
        sa.Column("initial_ppl_id", sa.String(length=36), nullable=False),
        sa.Column("rerun_of", sa.String(length=36), nullable=True),
        sa.Column("request_token", sa.String(length=255), nullable=True),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_workflows_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("project_id", "number", name=op.f("uq_workflows_project_id")),
        sa.UniqueConstraint("rerun_of", "request_token", name=op.f("uq_workflows_rerun_of")),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_workflows_project_created", ["project_id", "created_at"], unique=False
        )

    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("yaml_file_path", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("result_reason", sa.String(length=16), nullable=True),
        sa.Column("error_description", sa.Text(), nullable=False),
        sa.Column("terminate_request", sa.String(length=8), nullable=False),
        sa.Column("terminate_reason", sa.String(length=16), nullable=False),
        sa.Column("terminated_by", sa.String(length=100), nullable=False),
        sa.Column("queue_key", sa.String(length=1200), nullable=False),
        sa.Column("queue_parallel", sa.Boolean(), nullable=False),
        sa.Column("fail_fast", sa.String(length=8), nullable=False),
        sa.Column("auto_cancel", sa.String(length=8), nullable=False),
        sa.Column("execution_time_limit", sa.Integer(), nullable=True),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pending_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("queuing_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("running_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopping_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pipelines_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_pipelines_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
    )
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pipelines_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_pipelines_queue", ["queue_key", "state"], unique=False)
        batch_op.create_index("ix_pipelines_state", ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipelines_workflow_id"), ["workflow_id"], unique=False)

    op.create_table(
        "blocks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("build_req_id", sa.String(length=36), nullable=False),
        sa.Column("dependencies", sa.JSON(), nullable=False),
        sa.Column("skip", sa.Boolean(), nullable=False),
        sa.Column("fail_fast", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("result_reason", sa.String(length=16), nullable=True),
        sa.Column("stop_reason", sa.String(length=16), nullable=False),
        sa.Column("error_description", sa.Text(), nullable=False),
        sa.Column("started_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_blocks_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
    )
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blocks_pipeline_id"), ["pipeline_id"], unique=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pipeline_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("block_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("index", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.create_index(batch_op.f("ix_jobs_pipeline_id"), ["pipeline_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_jobs_block_id_blocks"),
            "blocks",
            ["block_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_jobs_pipeline_id_pipelines"),
            "pipelines",
            ["pipeline_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("workflow_count", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("workflow_count")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_jobs_pipeline_id_pipelines"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_jobs_block_id_blocks"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_jobs_pipeline_id"))
        batch_op.drop_column("index")
        batch_op.drop_column("block_id")
        batch_op.drop_column("pipeline_id")

    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blocks_pipeline_id"))

    op.drop_table("blocks")
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipelines_workflow_id"))
        batch_op.drop_index("ix_pipelines_state")
        batch_op.drop_index("ix_pipelines_queue")
        batch_op.drop_index("ix_pipelines_project_created")

    op.drop_table("pipelines")
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_index("ix_workflows_project_created")

    op.drop_table("workflows")
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.drop_index("uq_secrets_scope_name")
        batch_op.drop_index(batch_op.f("ix_secrets_project_id"))

    op.drop_table("secrets")
