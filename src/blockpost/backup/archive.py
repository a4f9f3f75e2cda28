"""The backup archive: a tar.gz with a manifest, the database, the key and chosen files."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from blockpost.errors import BlockpostError

FORMAT = 1
MANIFEST = "manifest.json"
SECRET_KEY = "secret.key"
DATABASE_DIR = "database"
SQLITE_MEMBER = f"{DATABASE_DIR}/blockpost.db"
POSTGRES_MEMBER = f"{DATABASE_DIR}/postgresql.dump"
DATA_DIR = "data"  # files of the data dir, by their path in it
STORE_DIR = "store"  # files of the local artifact store, by key
PROGRESS_EVERY = 1000  # files between two progress lines

Say = Callable[[str], None]


@dataclass
class Manifest:
    blockpost: str
    created: str
    database: str  # sqlite or postgresql
    schema_revision: str
    contents: list[str] = field(default_factory=list)
    format: int = FORMAT

    def encode(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def decode(cls, raw: bytes, archive: Path) -> Manifest:
        try:
            data = json.loads(raw)
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise BlockpostError(f"{archive}: {MANIFEST} is not a blockpost manifest") from exc
        if manifest.format != FORMAT:
            raise BlockpostError(
                f"{archive}: archive format {manifest.format}, this blockpost reads {FORMAT}"
            )
        return manifest


class Writer:
    """Adds files to the archive as it goes; a file deleted meanwhile is skipped."""

    def __init__(self, tar: tarfile.TarFile, say: Say) -> None:
        self.tar = tar
        self.say = say

    def add_bytes(self, name: str, data: bytes, mode: int = 0o600) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        self.tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, path: Path) -> None:
        self.tar.add(str(path), arcname=name, recursive=False, filter=_private)

    def add_tree(self, prefix: str, root: Path, skip: Callable[[Path], bool]) -> int:
        """Every regular file under `root` as `prefix/<relative path>`; the count."""
        count = 0
        for directory, dirs, names in os.walk(root):
            dirs.sort()
            for name in sorted(names):
                path = Path(directory) / name
                if skip(path) or not path.is_file() or path.is_symlink():
                    continue
                try:
                    self.add_file(f"{prefix}/{path.relative_to(root).as_posix()}", path)
                except FileNotFoundError:
                    continue  # removed while we walked (retention, a finished upload)
                count += 1
                if count % PROGRESS_EVERY == 0:
                    self.say(f"  {count} files of {root} so far")
        return count


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def open_for_reading(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BlockpostError(f"{path}: not a readable backup archive ({exc})") from exc


def read_manifest(tar: tarfile.TarFile, archive: Path) -> Manifest:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise BlockpostError(f"{archive}: no {MANIFEST}; not a blockpost backup")
    return Manifest.decode(member.read(), archive)


def extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """Writes one regular file to `target` (0600), whatever path the archive gave it."""
    source: IO[bytes] | None = tar.extractfile(member)
    if source is None:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source:
        while chunk := source.read(1024 * 1024):
            out.write(chunk)


def safe_relative(name: str, prefix: str) -> Path | None:
    """The path below `prefix/` a member names; None for anything that would leave it."""
    if not name.startswith(f"{prefix}/"):
        return None
    relative = Path(name[len(prefix) + 1 :])
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    return relative
