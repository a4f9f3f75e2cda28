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
