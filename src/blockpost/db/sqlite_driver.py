"""SQLAlchemy's aiosqlite dialect with one thread hand-off per statement instead of four.

aiosqlite runs each sqlite3 call on its connection's thread, and SQLAlchemy's adapter
makes four such calls per statement (make a cursor, execute, fetch the rows, close the
cursor), each a round trip through a queue, a future and a wake-up of the event loop.
Under load those hand-offs (and the GIL passing back and forth with them) cost more than
the SQL. Here the statement and its fetch run as one call on the connection's thread,
and the cursor is made and closed on the event loop's thread: plain Python objects that
touch the database only under SQLite's own (serialized-mode) mutex. A commit or rollback
with no transaction open (a request that only read) makes no call at all.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

DRIVER = "aiosqlite_onehop"


def _run(cursor: sqlite3.Cursor, operation: str, parameters: Any) -> list[Any] | None:
    """On the connection's thread: the statement, and its rows if it returns any."""
    if parameters is None:
        cursor.execute(operation)
    else:
        cursor.execute(operation, parameters)
    return cursor.fetchall() if cursor.description else None


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return aiosqlite.Cursor(connection, connection._conn.cursor())

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            rows = await self._connection._execute(
                _run, self._cursor._cursor, operation, parameters
            )
            if rows is not None:
                self._rows = collections.deque(rows)
            return self._cursor

    def close(self) -> None:
        self._rows.clear()
        self._cursor._cursor.close()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor

    # sqlite3 begins a transaction only before a write: a request that only read has none
    # to end, and needs no hand-off to say so.
    def commit(self) -> None:
        if self._open():
            super().commit()

    def rollback(self) -> None:
        if self._open():
            super().rollback()

    def _open(self) -> bool:
        plain = self._connection._connection
        return plain is not None and plain.in_transaction


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        # The cursors are made and closed on the event loop's thread (see the module doc).
        kw["check_same_thread"] = False
        plain = super().connect(*arg, **kw)
        return OneHopConnection(self, plain._connection)


class Dialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        return OneHopDBAPI(aiosqlite, sqlite3)


registry.register(f"sqlite.{DRIVER}", __name__, "Dialect")
