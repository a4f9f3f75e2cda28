"""Copying the database out while the server runs, and into an empty one on restore."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from blockpost.db.engine import Database
from blockpost.errors import BlockpostError


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BlockpostError(f"the SQLite URL {url} names no file")
    return Path(database)


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup in one step: one read transaction, so the copy is consistent
    while the server goes on writing (WAL lets it)."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _libpq_env(url: URL) -> dict[str, str]:
    """The connection for pg_dump/pg_restore, the password in the environment (never argv)."""
    env = {**os.environ}
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def _tool(name: str, shown_url: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BlockpostError(
            f"{name} is not on PATH: blockpost needs PostgreSQL's client tools "
            "(Debian: postgresql-client, the server's major version or newer) to "
            f"{'back up' if name == 'pg_dump' else 'restore'} {shown_url}. "
            "See README, Backups, for doing it by hand."
        )
    return found


def _run(argv: list[str], url: URL) -> None:
    done = subprocess.run(argv, env=_libpq_env(url), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BlockpostError(f"{Path(argv[0]).name} failed: {' / '.join(lines[-3:])}")


def dump_postgresql(url: str, target: Path) -> None:
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    tool = _tool("pg_dump", shown)
    _run([tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"], parsed)


def restore_postgresql(url: str, dump: Path) -> None:
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    tool = _tool("pg_restore", shown)
    command = [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    _run([*command, f"--dbname={parsed.database}", str(dump)], parsed)


async def table_count(db: Database) -> int:
    """Tables in the database's own schemas: 0 for an empty database."""
    async with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            query = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        else:
            query = (
                "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN "
                "('pg_catalog', 'information_schema')"
            )
        return int((await conn.execute(text(query))).scalar_one())
