"""Making a backup archive of a server's state, and restoring one onto an empty place."""

from __future__ import annotations

import asyncio
import os
import tarfile
import tempfile
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url

from blockpost import __version__
from blockpost.artifacts.paths import ROOT as ARTIFACTS_PREFIX
from blockpost.backup import archive, database
from blockpost.backup.archive import Manifest, Say
from blockpost.cache.names import ROOT as CACHE_PREFIX
from blockpost.config import SECRET_KEY_FILE, Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.errors import BlockpostError
from blockpost.timefmt import iso_seconds, utcnow

# Snapshot repositories (services/snapshots.py) exist nowhere else; the mirrors beside
# them are caches of the projects' repositories, fetched again on first use.
SNAPSHOTS = Path("repositories", "snapshots")
STORE_PREFIXES = (ARTIFACTS_PREFIX, CACHE_PREFIX)


def _local_store_root(settings: Settings) -> Path | None:
    """The artifact store's directory; None for S3."""
    if settings.artifact_store.startswith("s3://"):
        return None
    return Path(settings.artifact_store) if settings.artifact_store else settings.data_dir


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    key_file = settings.data_dir / SECRET_KEY_FILE
    if not key_file.is_file():
        raise BlockpostError(
            f"the data dir {settings.data_dir.resolve()} holds no {SECRET_KEY_FILE}: it is "
            "not a blockpost server's (give --data-dir or BLOCKPOST_DATA_DIR as the server has it)"
        )
    return key_file.read_text().strip()


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} kB"


async def _revision(url: str) -> str | None:
    db = Database(url)
    try:
        return await migrate.current_revision(db)
    finally:
        await db.dispose()


def create_backup(settings: Settings, target: Path, *, with_store: bool, say: Say) -> str:
    """Writes the archive to `target` (which must not exist) and says what it holds."""
    if target.exists():
        raise BlockpostError(f"{target} exists already; give a new file name")
    url = settings.effective_database_url
    kind = make_url(url).get_backend_name()
    key = _secret_key(settings)
    revision = asyncio.run(_revision(url))
    if revision is None:
        shown = make_url(url).render_as_string(hide_password=True)
        raise BlockpostError(f"the database {shown} is empty: there is nothing to back up")
    store_root = _local_store_root(settings)
    if with_store and store_root is None:
        say(
            f"the artifact store {settings.artifact_store} is S3: back the bucket up with "
            "its own tools; the archive holds the rest"
        )
    snapshots = settings.data_dir / SNAPSHOTS
    contents = [
        "database",
        SECRET_KEY_FILE,
        *([SNAPSHOTS.as_posix()] if snapshots.is_dir() else []),
    ]
    store_prefixes = [
        prefix
        for prefix in STORE_PREFIXES
        if with_store and store_root is not None and (store_root / prefix).is_dir()
    ]
    contents += [f"store/{prefix}" for prefix in store_prefixes]
    manifest = Manifest(__version__, iso_seconds(utcnow()), kind, revision, contents)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".blockpost-backup-") as work:
        try:
            # The archive holds the secret key: only its owner may read it.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as tar:
                writer = archive.Writer(tar, say)
                writer.add_bytes(archive.MANIFEST, manifest.encode(), mode=0o644)
                writer.add_bytes(archive.SECRET_KEY, key.encode())
                _add_database(writer, url, kind, Path(work), say)
                if snapshots.is_dir():
                    say("adding the workflow snapshots' repositories")
                    count = writer.add_tree(
                        f"{archive.DATA_DIR}/{SNAPSHOTS.as_posix()}", snapshots, _no_skip
                    )
                    say(f"  {count} files")
                for prefix in store_prefixes:
                    assert store_root is not None
                    say(f"adding the artifact store's {prefix}/")
                    count = writer.add_tree(
                        f"{archive.STORE_DIR}/{prefix}", store_root / prefix, _no_skip
                    )
                    say(f"  {count} files")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return f"backup written to {target} ({_size(target)}): {', '.join(contents)}"


def _no_skip(_path: Path) -> bool:
    return False


def _add_database(writer: archive.Writer, url: str, kind: str, work: Path, say: Say) -> None:
    if kind == "sqlite":
        source = database.sqlite_path(url)
        say(f"copying the SQLite database {source} ({_size(source)}) with SQLite's backup API")
        copy = work / "blockpost.db"
        database.copy_sqlite(source, copy)
        writer.add_file(archive.SQLITE_MEMBER, copy)
    else:
        say("dumping the PostgreSQL database with pg_dump (custom format)")
        dump = work / "postgresql.dump"
        database.dump_postgresql(url, dump)
        say(f"  {_size(dump)}")
        writer.add_file(archive.POSTGRES_MEMBER, dump)


def _check_known(revision: str) -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    try:
        found = scripts.get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise BlockpostError(
            f"the archive's schema revision {revision} is unknown to blockpost {__version__}: "
            "restore it with the version that made it, or a newer one"
        )


def _check_empty_dir(path: Path, what: str) -> None:
    if path.exists() and any(path.iterdir()):
        raise BlockpostError(
            f"{what} {path.resolve()} is not empty: restore only into an empty one "
            "(give another with --data-dir, or move this one away)"
        )


def restore_backup(settings: Settings, source: Path, *, say: Say) -> str:
    """Unpacks the archive onto an empty data dir and an empty database, then migrates."""
    url = settings.effective_database_url
    kind = make_url(url).get_backend_name()
    shown = make_url(url).render_as_string(hide_password=True)
    with archive.open_for_reading(source) as tar:
        manifest = archive.read_manifest(tar, source)
        if manifest.database != kind:
            raise BlockpostError(
                f"{source} holds a {manifest.database} database, and the database to restore "
                f"into is {shown} ({kind}): set --database-url (BLOCKPOST_DATABASE_URL) to an "
                f"empty {manifest.database} database"
            )
        _check_known(manifest.schema_revision)
        _check_empty_dir(settings.data_dir, "the data dir")
        store_root = _local_store_root(settings)
        if store_root is not None and store_root != settings.data_dir:
            for prefix in STORE_PREFIXES:
                _check_empty_dir(store_root / prefix, "the artifact store's directory")
        if not asyncio.run(_database_empty(url, kind)):
            raise BlockpostError(
                f"the database {shown} is not empty: restore only into an empty database"
            )
        key = _read_member(tar, archive.SECRET_KEY, source).decode().strip()
        if settings.secret_key and settings.secret_key != key:
            raise BlockpostError(
                "BLOCKPOST_SECRET_KEY differs from the key in the archive, and the archive's "
                "secrets open only with its own key: unset it, or set it to the archived key"
            )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)
        if not settings.secret_key:
            key_file = settings.data_dir / SECRET_KEY_FILE
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
        say(f"restoring the {kind} database into {shown}")
        with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".restore-") as work:
            _restore_database(tar, source, url, kind, Path(work))
        files = _restore_files(tar, settings.data_dir, store_root, say)
    say(f"upgrading the schema from {manifest.schema_revision} to this version's")
    asyncio.run(_upgrade(url))
    return (
        f"restored {source} (made {manifest.created} by blockpost {manifest.blockpost}): "
        f"the database, the secret key and {files} files into {settings.data_dir.resolve()}; "
        "start the server with these same settings"
    )


def _read_member(tar: tarfile.TarFile, name: str, source: Path) -> bytes:
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise BlockpostError(f"{source}: no {name} in the archive")
    return member.read()


def _restore_database(tar: tarfile.TarFile, source: Path, url: str, kind: str, work: Path) -> None:
    if kind == "sqlite":
        target = database.sqlite_path(url)
        target.unlink(missing_ok=True)  # an empty file at most, checked above
        archive.extract_member(tar, tar.getmember(archive.SQLITE_MEMBER), target)
        return
    try:
        member = tar.getmember(archive.POSTGRES_MEMBER)
    except KeyError:
        raise BlockpostError(f"{source}: no {archive.POSTGRES_MEMBER} in the archive") from None
    dump = work / "postgresql.dump"
    archive.extract_member(tar, member, dump)
    database.restore_postgresql(url, dump)


def _restore_files(tar: tarfile.TarFile, data_dir: Path, store_root: Path | None, say: Say) -> int:
    count = 0
    for member in tar:
        if not member.isfile():
            continue
        relative = archive.safe_relative(member.name, archive.DATA_DIR)
        root = data_dir
        if relative is None and store_root is not None:
            relative = archive.safe_relative(member.name, archive.STORE_DIR)
            root = store_root
        if relative is None:
            continue
        archive.extract_member(tar, member, root / relative)
        count += 1
        if count % archive.PROGRESS_EVERY == 0:
            say(f"  {count} files restored so far")
    return count


async def _database_empty(url: str, kind: str) -> bool:
    if kind == "sqlite":  # connecting would make the file; an empty one is no database yet
        path = database.sqlite_path(url)
        return not path.is_file() or path.stat().st_size == 0
    db = Database(url)
    try:
        return await database.table_count(db) == 0
    finally:
        await db.dispose()


async def _upgrade(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()
