"""Migrations build the schema from empty, round-trip, and match the ORM models exactly."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from blockpost.db import migrate
from blockpost.db.base import Base
from blockpost.db.engine import Database
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
