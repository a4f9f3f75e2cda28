"""The one engine and session factory; SQLite gets WAL and a busy timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from blockpost.db import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
AFTER_COMMIT = "blockpost_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Runs `callback` once the session's transaction has committed (e.g. to wake agents)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """`hide_parameters`: a logged database error shows its SQL but not the values bound to
    it, which may be password hashes, tokens' hashes or sealed secrets."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            make_url(url).set(drivername=f"sqlite+{sqlite_driver.DRIVER}"),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_reset_on_return=None,
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it was a round trip (~8% of the server's CPU under load) before every
    # checkout. A connection that died with the database is invalidated when first used,
    # with the rest of the pool, and that one request answers 503 (api/errors.py).
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        isolation_level="READ COMMITTED",
        hide_parameters=True,
    )


def asyncpg_dsn(url: str) -> str:
    """The plain libpq-style DSN asyncpg takes, from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Database:
    """Owns the engine; `session()` is a unit of work that commits once at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            for callback in session.info.pop(AFTER_COMMIT, []):
                callback()

    async def dispose(self) -> None:
        await self.engine.dispose()
