"""Test results: the JUnit reports jobs publish, with their suites and cases.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import blockpost.db.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "test_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("framework", sa.String(length=32), nullable=False),
        sa.Column("created_at", blockpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_test_reports_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_test_reports_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_reports")),
    )
    op.create_index(op.f("ix_test_reports_job_id"), "test_reports", ["job_id"], unique=False)
    op.create_index(
        op.f("ix_test_reports_pipeline_id"), "test_reports", ["pipeline_id"], unique=False
    )
    op.create_table(
        "test_suites",
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("duration_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["test_reports.id"],
            name=op.f("fk_test_suites_report_id_test_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "position", name=op.f("pk_test_suites")),
    )
    op.create_table(
        "test_cases",
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("suite_position", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("classname", sa.Text(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("duration_ns", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id", "suite_position"],
            ["test_suites.report_id", "test_suites.position"],
            name=op.f("fk_test_cases_report_id_test_suites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "report_id", "suite_position", "position", name=op.f("pk_test_cases")
        ),
    )


def downgrade() -> None:
    op.drop_table("test_cases")
    op.drop_table("test_suites")
    op.drop_index(op.f("ix_test_reports_pipeline_id"), table_name="test_reports")
    op.drop_index(op.f("ix_test_reports_job_id"), table_name="test_reports")
    op.drop_table("test_reports")
