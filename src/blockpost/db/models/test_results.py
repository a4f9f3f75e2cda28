"""Test reports a job published (one per JUnit file), their suites and cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, ForeignKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blockpost.db.base import Base, UUIDColumn, new_uuid
from blockpost.timefmt import utcnow


class JUnitReport(Base):
    __tablename__ = "test_reports"

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    # the job's, copied: a pipeline's summary reads its reports without joining jobs
    pipeline_id: Mapped[str | None] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    framework: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JUnitSuite(Base):
    __tablename__ = "test_suites"

    report_id: Mapped[str] = mapped_column(
        ForeignKey("test_reports.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    duration_ns: Mapped[int] = mapped_column(BigInteger)


class JUnitCase(Base):
    __tablename__ = "test_cases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["report_id", "suite_position"],
            ["test_suites.report_id", "test_suites.position"],
            ondelete="CASCADE",
        ),
    )

    report_id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True)
    suite_position: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    classname: Mapped[str] = mapped_column(Text)
    file: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    duration_ns: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
