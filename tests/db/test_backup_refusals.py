"""`restore` refuses what would mix two servers' state, naming it, and writes nothing then;
`backup` refuses what is no server's state."""

from __future__ import annotations

import asyncio
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from blockpost.backup import create_backup, restore_backup
from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.errors import BlockpostError

LINES: list[str] = []


def say(line: str) -> None:
    LINES.append(line)


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of a migrated SQLite server with a snapshot repository file and an artifact."""
    root = tmp_path_factory.mktemp("server")
    settings = Settings(data_dir=root / "data", database_url=None)
    settings.prepare_data_dir()
    asyncio.run(_migrate(settings.effective_database_url))
    snapshot = root / "data" / "repositories" / "snapshots" / "s1.git" / "HEAD"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_text("ref: refs/heads/main\n")
    artifact = root / "data" / "artifacts" / "jobs" / "j1" / "out.txt"
    artifact.parent.mkdir(parents=True)
    artifact.write_text("out\n")
    target = root / "backup.tar.gz"
    summary = create_backup(settings, target, with_store=True, say=say)
    assert "repositories/snapshots" in summary
    assert "store/artifacts" in summary
    return target


def test_restore_puts_the_key_database_snapshots_and_artifacts_in_place(
    archive: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "new", database_url=None)
    restore_backup(settings, archive, say=say)
    data = tmp_path / "new"
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
    assert (data / "repositories/snapshots/s1.git/HEAD").read_text() == "ref: refs/heads/main\n"
    assert (data / "artifacts/jobs/j1/out.txt").read_text() == "out\n"
    assert data.stat().st_mode & 0o777 == 0o700


def test_restore_refuses_a_data_dir_that_is_not_empty(archive: Path, tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    settings = Settings(data_dir=tmp_path / "used", database_url=None)
    named = re.escape(f"the data dir {tmp_path}/used is not empty")
    with pytest.raises(BlockpostError, match=named):
        restore_backup(settings, archive, say=say)
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == ["notes.txt"]


def test_restore_refuses_a_database_that_has_tables(
    archive: Path, tmp_path: Path, database_url: str, migrated_db: Database
) -> None:
    if not database_url.startswith("sqlite"):
        sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
        asyncio.run(_migrate(sqlite_url))
    else:
        sqlite_url = database_url
    settings = Settings(data_dir=tmp_path / "fresh", database_url=sqlite_url)
    with pytest.raises(BlockpostError, match="is not empty: restore only into an empty database"):
        restore_backup(settings, archive, say=say)
    assert not (tmp_path / "fresh").exists()


def test_restore_refuses_another_back_end_naming_both(archive: Path, tmp_path: Path) -> None:
    url = "postgresql+asyncpg://blockpost@127.0.0.1:1/nowhere"
    settings = Settings(data_dir=tmp_path / "d", database_url=url)
    with pytest.raises(BlockpostError, match="holds a sqlite database, and the database to"):
        restore_backup(settings, archive, say=say)


def test_restore_refuses_a_secret_key_setting_that_is_not_the_archived_key(
    archive: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=None, secret_key="another-key")
    with pytest.raises(BlockpostError, match="BLOCKPOST_SECRET_KEY differs"):
        restore_backup(settings, archive, say=say)


def test_restore_refuses_a_schema_this_version_does_not_know(archive: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(newer, "w:gz") as target:
        for member in source:
            data = source.extractfile(member)
            if member.name == "manifest.json":
                assert data is not None
                manifest = json.loads(data.read())
                manifest["schema_revision"] = "9999"
                raw = json.dumps(manifest).encode()
                member.size = len(raw)
                data = io.BytesIO(raw)
            target.addfile(member, data)
    settings = Settings(data_dir=tmp_path / "d", database_url=None)
    with pytest.raises(BlockpostError, match="schema revision 9999 is unknown"):
        restore_backup(settings, newer, say=say)


def test_restore_refuses_a_file_that_is_no_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    settings = Settings(data_dir=tmp_path / "d", database_url=None)
    with pytest.raises(BlockpostError, match="not a readable backup archive"):
        restore_backup(settings, junk, say=say)


def test_backup_refuses_a_data_dir_without_a_key_and_an_existing_file(
    archive: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "nothing", database_url=None)
    with pytest.raises(BlockpostError, match=r"holds no secret\.key"):
        create_backup(settings, tmp_path / "b.tar.gz", with_store=False, say=say)
    with pytest.raises(BlockpostError, match="exists already"):
        create_backup(settings, archive, with_store=False, say=say)
