"""Run alembic migrations programmatically on an async engine (both back ends)."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from blockpost.db.engine import Database

SCRIPT_LOCATION = "blockpost:migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def _run(sync: Connection, step: Callable[[Config], None]) -> None:
    """Runs a migration step; on SQLite with foreign keys off while it runs.

    Batch mode rebuilds a SQLite table by copying it and dropping the old one, and with
    foreign keys on that DROP deletes every row that references it (ON DELETE CASCADE):
    rebuilding `pipelines` would empty `blocks`. The pragma only takes effect outside a
    transaction, so it is set before the migration's transaction begins and checked after.
    """
    sqlite = sync.dialect.name == "sqlite"
    if sqlite:
        sync.exec_driver_sql("PRAGMA foreign_keys=OFF")
        sync.commit()  # ends SQLAlchemy's autobegun transaction; sqlite3 began none
    try:
        with sync.begin():
            step(alembic_config(sync))
            if sqlite:
                broken = sync.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                assert not broken, f"the migration left rows that reference nothing: {broken}"
    finally:
        if sqlite:
            sync.exec_driver_sql("PRAGMA foreign_keys=ON")
            sync.commit()


async def upgrade(db: Database, revision: str = "head") -> None:
    async with db.engine.connect() as conn:
        await conn.run_sync(_run, lambda config: command.upgrade(config, revision))


async def downgrade(db: Database, revision: str) -> None:
    async with db.engine.connect() as conn:
        await conn.run_sync(_run, lambda config: command.downgrade(config, revision))


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
