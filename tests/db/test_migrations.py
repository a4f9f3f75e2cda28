"""Migrations build the schema from empty, round-trip, and match the ORM models exactly."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, insert, inspect, table, text

from blockpost.db import migrate
from blockpost.db.base import Base, UTCDateTime
from blockpost.db.engine import Database
from blockpost.db.models import (
    AuditEvent,
    Block,
    DeploymentTarget,
    Job,
    Pipeline,
    Project,
    TargetRequest,
    User,
    Workflow,
)
from tests.conftest import BASE_DATABASE_URL
from tests.support.databases import fresh_database


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database(BASE_DATABASE_URL, tmp_path, "migrations") as url:
        yield url


async def table_names(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_from_empty_reaches_head_with_every_table(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        assert await migrate.current_revision(db) is None
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == migrate.head_revision()
        assert await table_names(db) >= set(Base.metadata.tables)
    finally:
        await db.dispose()


async def test_downgrade_to_base_and_upgrade_again_round_trips(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        await migrate.upgrade(db)
        await migrate.downgrade(db, "base")
        assert await table_names(db) <= {"alembic_version"}
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == migrate.head_revision()
    finally:
        await db.dispose()


async def test_migrated_schema_matches_the_models(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
        assert diff == [], "models and migrations disagree; write a migration"
    finally:
        await db.dispose()


T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OLD_REQUESTS = table(
    "deployment_target_requests",
    column("unique_token"),
    column("operation"),
    column("target_id"),
    column("created_at", UTCDateTime()),
)


async def requests(db: Database) -> set[tuple[object, ...]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT user_id, project_id, unique_token, operation"
                " FROM deployment_target_requests"
            )
        )
        return {tuple(row) for row in rows}


async def test_target_requests_are_keyed_by_the_user_and_project_that_made_them(
    empty_url: str,
) -> None:
    db = Database(empty_url)
    try:
        await migrate.upgrade(db, "0006")
        async with db.engine.begin() as conn:
            await conn.execute(
                insert(User.__table__),
                [
                    {"id": 1, "uuid": "u-alice", "username": "alice", "password_hash": "x"},
                    {"id": 2, "uuid": "u-bob", "username": "bob", "password_hash": "x"},
                ],
            )
            await conn.execute(
                insert(Project.__table__).values(
                    id="p-1", name="p1", owner_id=1, repository_url="/r", pipeline_file="x.yml",
                    integration_type="git", number=1,
                )
            )  # fmt: skip
            await conn.execute(
                insert(DeploymentTarget.__table__).values(
                    id="t-live", project_id="p-1", name="prod", subject_rules=[], object_rules=[],
                    sealed="", created_by="u-alice", updated_by="u-alice",
                )
            )  # fmt: skip
            event = {"resource_type": "deployment_target", "resource_name": "x", "details": {}}
            await conn.execute(
                insert(AuditEvent.__table__),
                [
                    {**event, "at": T0 + timedelta(seconds=1), "actor_id": "u-bob",
                     "actor_name": "bob", "action": "deployment_target.updated",
                     "resource_id": "t-live", "project_id": "p-1"},
                    {**event, "at": T0 + timedelta(seconds=9), "actor_id": "u-alice",
                     "actor_name": "alice", "action": "deployment_target.updated",
                     "resource_id": "t-live", "project_id": "p-1"},
                    {**event, "at": T0, "actor_id": "u-bob", "actor_name": "bob",
                     "action": "deployment_target.deleted", "resource_id": "t-gone",
                     "project_id": "p-1"},
                ],
            )  # fmt: skip
            await conn.execute(
                insert(OLD_REQUESTS),
                [
                    {"unique_token": "c", "operation": "create", "target_id": "t-live",
                     "created_at": T0},
                    {"unique_token": "u1", "operation": "update", "target_id": "t-live",
                     "created_at": T0 + timedelta(seconds=1)},
                    {"unique_token": "u2", "operation": "update", "target_id": "t-live",
                     "created_at": T0 + timedelta(seconds=8)},
                    {"unique_token": "d", "operation": "delete", "target_id": "t-gone",
                     "created_at": T0},
                    {"unique_token": "lost", "operation": "delete", "target_id": "t-unknown",
                     "created_at": T0},
                ],
            )  # fmt: skip

        await migrate.upgrade(db, "0007")
        assert await requests(db) == {
            (1, "p-1", "c", "create"),
            (2, "p-1", "u1", "update"),
            (1, "p-1", "u2", "update"),
            (2, "p-1", "d", "delete"),
        }  # "lost" named no one: a target deleted before the audit log

        async with db.engine.begin() as conn:
            later = T0 + timedelta(minutes=5)
            await conn.execute(
                insert(TargetRequest.__table__).values(
                    user_id=2, project_id="p-1", unique_token="c", operation="create",
                    target_id="t-live", created_at=later,
                )
            )  # fmt: skip
        await migrate.downgrade(db, "0006")
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT unique_token, target_id FROM deployment_target_requests")
            )
            assert sorted(tuple(row) for row in rows) == [
                ("c", "t-live"), ("d", "t-gone"), ("u1", "t-live"), ("u2", "t-live"),
            ]  # fmt: skip
        await migrate.upgrade(db)
        assert (1, "p-1", "c", "create") in await requests(db)
    finally:
        await db.dispose()


async def row_counts(db: Database, tables: tuple[str, ...]) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {
            t: (await conn.execute(text(f"SELECT COUNT(*) FROM {t}"))).scalar_one() for t in tables
        }


async def test_migrating_down_and_up_keeps_the_rows_below_a_rebuilt_table(empty_url: str) -> None:
    """On SQLite, batch mode rebuilds a table by dropping it; with foreign keys on, that
    DROP would delete every block and job below the pipelines it rebuilt."""
    db = Database(empty_url)
    try:
        await migrate.upgrade(db)
        async with db.engine.begin() as conn:
            await conn.execute(
                insert(User.__table__).values(id=1, uuid="u-1", username="ada", password_hash="x")
            )
            await conn.execute(
                insert(Project.__table__).values(
                    id="p-1", name="p1", owner_id=1, repository_url="/r", pipeline_file="x.yml",
                    integration_type="git", number=1,
                )
            )  # fmt: skip
            await conn.execute(
                insert(Workflow.__table__).values(
                    id="w-1", project_id="p-1", number=1, requester_id="u-1",
                    requester_name="ada", branch_id="b-1", reference="refs/heads/main",
                    ref_type="branch", ref_name="main", branch_name="main", commit_sha="a" * 40,
                    pipeline_file="x.yml", initial_ppl_id="pl-1",
                )
            )  # fmt: skip
            await conn.execute(
                insert(Pipeline.__table__).values(
                    id="pl-1", workflow_id="w-1", project_id="p-1", yaml_file_path="x.yml"
                )
            )
            await conn.execute(
                insert(Block.__table__).values(
                    id="bl-1", pipeline_id="pl-1", index=0, name="b", dependencies=[]
                )
            )
            await conn.execute(
                insert(Job.__table__).values(
                    id="j-1", name="j", project_id="p-1", pipeline_id="pl-1", block_id="bl-1",
                    agent_type="s1-local", spec={},
                )
            )  # fmt: skip
        tables = ("workflows", "pipelines", "blocks", "jobs")
        assert await row_counts(db, tables) == dict.fromkeys(tables, 1)
        await migrate.downgrade(db, "0008")
        await migrate.upgrade(db)
        assert await row_counts(db, tables) == dict.fromkeys(tables, 1)
    finally:
        await db.dispose()
