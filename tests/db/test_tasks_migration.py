"""Migration 0011: a schedule's {NAME: value} parameters become definitions with defaults,
and its triggers survive both ways."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import column, insert, select, table, text
from sqlalchemy.types import JSON

from blockpost.db import migrate
from blockpost.db.base import UTCDateTime
from blockpost.db.engine import Database
from blockpost.db.models import Project, User
from tests.conftest import BASE_DATABASE_URL
from tests.support.databases import fresh_database

OLD_SCHEDULES = table(
    "schedules",
    *(column(name) for name in ("id", "project_id", "number", "name", "branch", "at")),
    *(column(name) for name in ("pipeline_file", "paused", "pause_toggled_by", "requester_id")),
    column("parameters", JSON()),
    column("inserted_at", UTCDateTime()),
    column("updated_at", UTCDateTime()),
)
OLD_TRIGGERS = table(
    "schedule_triggers",
    *(column(name) for name in ("schedule_id", "project_id", "branch", "pipeline_file")),
    *(column(name) for name in ("run_now_requester_id", "scheduling_status")),
    *(column(name) for name in ("scheduled_workflow_id", "error_description")),
    column("triggered_at", UTCDateTime()),
)


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database(BASE_DATABASE_URL, tmp_path, "tasks") as url:
        yield url


async def test_parameter_values_become_defaults_and_come_back_on_downgrade(
    empty_url: str,
) -> None:
    db = Database(empty_url)
    try:
        await migrate.upgrade(db, "0010")
        async with db.engine.begin() as conn:
            await conn.execute(
                insert(User.__table__).values(id=1, uuid="u-1", username="alice", password_hash="x")
            )
            await conn.execute(
                insert(Project.__table__).values(
                    id="p-1", name="p1", owner_id=1, repository_url="/r", pipeline_file="x.yml",
                    integration_type="git", number=1,
                )
            )  # fmt: skip
            now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
            await conn.execute(
                insert(OLD_SCHEDULES).values(
                    id="s-1", project_id="p-1", number=1, name="nightly", branch="main",
                    at="0 3 * * *", pipeline_file="x.yml", paused=False, pause_toggled_by="",
                    requester_id="u-1", parameters={"DEPLOY_ENV": "staging"},
                    inserted_at=now, updated_at=now,
                )
            )  # fmt: skip
            await conn.execute(
                insert(OLD_TRIGGERS).values(
                    schedule_id="s-1", project_id="p-1", branch="main", pipeline_file="x.yml",
                    run_now_requester_id="", scheduling_status="passed",
                    scheduled_workflow_id="", error_description="", triggered_at=now,
                )
            )  # fmt: skip

        await migrate.upgrade(db, "0011")
        schedules = table(
            "schedules", column("parameters", JSON()), column("recurring"), column("description")
        )
        async with db.engine.connect() as conn:
            row = (await conn.execute(select(schedules))).one()
            reference = await conn.scalar(text("SELECT reference FROM schedule_triggers"))
        assert row.parameters == [
            {
                "name": "DEPLOY_ENV",
                "required": False,
                "description": "",
                "default_value": "staging",
                "options": [],
            }
        ]
        assert (bool(row.recurring), row.description) == (True, "")
        assert reference == "refs/heads/main"

        await migrate.downgrade(db, "0010")
        old = table("schedules", column("parameters", JSON()))
        async with db.engine.connect() as conn:
            assert await conn.scalar(select(old.c.parameters)) == {"DEPLOY_ENV": "staging"}
            assert await conn.scalar(text("SELECT count(*) FROM schedule_triggers")) == 1
    finally:
        await db.dispose()
