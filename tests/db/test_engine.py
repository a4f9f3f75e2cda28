"""The engine's error messages: SQL yes, bound values no (they reach the server log)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from blockpost.db.engine import Database


async def test_a_failed_statement_does_not_show_the_values_bound_to_it(db: Database) -> None:
    with pytest.raises(DBAPIError) as caught:
        async with db.session() as session:
            await session.execute(
                text("SELECT * FROM no_such_table WHERE token = :token"),
                {"token": "hunter2-secret-value"},
            )
    assert "no_such_table" in str(caught.value)
    assert "hunter2-secret-value" not in str(caught.value)


async def test_statements_see_their_own_writes_and_a_rollback_undoes_them(db: Database) -> None:
    """On SQLite each statement and its fetch are one hand-off to the connection's thread
    (db/sqlite_driver.py), and a commit or rollback with nothing open is skipped."""
    async with db.session() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY)"))
    async with db.session() as session:
        inserted = await session.execute(text("INSERT INTO scratch (id) VALUES (1), (2)"))
        assert inserted.rowcount == 2
        rows = await session.execute(text("SELECT id FROM scratch ORDER BY id"))
        assert rows.scalars().all() == [1, 2]

    async def delete_then_fail() -> None:
        async with db.session() as session:
            await session.execute(text("DELETE FROM scratch"))
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        await delete_then_fail()
    async with db.session() as session:  # only reads: nothing to commit
        assert (await session.scalar(text("SELECT count(*) FROM scratch"))) == 2
        await session.execute(text("DROP TABLE scratch"))
