"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import delete
from sqlalchemy.engine import make_url

import blockpost.db.models  # noqa: F401  (registers every table)
from blockpost.db.base import Base
from blockpost.db.engine import Database, asyncpg_dsn


async def admin_statement(url: str, statement: str) -> None:
    """Runs one statement on the PostgreSQL server `url` names, outside any transaction."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _run(statement: Coroutine[None, None, None]) -> None:
    """In a thread of its own: the browser tests' Playwright keeps an event loop running in
    the test's thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, statement).result()


@contextmanager
def fresh_database(base_url: str | None, sqlite_dir: Path, label: str) -> Iterator[str]:
    """Yields the URL of an empty database on the back end `base_url` names (SQLite if None)."""
    if not base_url or base_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{sqlite_dir / f'{label}.db'}"
        return
    name = f"blockpost_{label}_{uuid.uuid4().hex[:10]}"
    _run(admin_statement(base_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(admin_statement(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def wipe(db: Database) -> None:
    """Deletes every row, children first; the schema stays migrated."""
    async with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(delete(table))
