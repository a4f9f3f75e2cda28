"""Workflow snapshots: a tar.gz turned into a git commit without unpacking it on disk.

The archive is read in memory and checked entry by entry (no absolute paths, no `..`,
no symbolic link pointing out of the tree, no devices, size caps) before git sees any
of it; `git fast-import` then writes the commit twice: into the project's mirror under
refs/blockpost/snapshots/<id> (where the engine reads the pipeline file, as for any
commit) and into a bare repository of its own whose only branch is the label (what a
job's `checkout` clones over HTTP). Nothing from the archive is ever executed or
checked out on the server. Every call is blocking.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from blockpost.errors import InvalidInput
from blockpost.git.mirror import Repository
from blockpost.git.refs import SNAPSHOT_PREFIX, parse_reference

FIELD = "snapshot_archive"
MAX_ENTRIES = 100_000
MAX_PATH_BYTES = 4096
# The files may take more room than the compressed archive, but not without bound.
UNPACKED_FACTOR = 4
_FILE_MODE = "100644"
_EXEC_MODE = "100755"
_LINK_MODE = "120000"


@dataclass(frozen=True)
class Snapshot:
    id: str
    label: str
    commit_sha: str

    @property
    def ref(self) -> str:
        """Its ref in the project's mirror, which is the workflow's reference."""
        return mirror_ref(self.id, self.label)


def mirror_ref(snapshot_id: str, label: str) -> str:
    return f"{SNAPSHOT_PREFIX}{snapshot_id}/{label}"


def parse_snapshot_ref(reference: str) -> tuple[str, str] | None:
    """(snapshot id, label) of a workflow's reference; None for a git reference."""
    if not reference.startswith(SNAPSHOT_PREFIX):
        return None
    snapshot_id, _, label = reference.removeprefix(SNAPSHOT_PREFIX).partition("/")
    return snapshot_id, label


def check_label(label: str) -> str:
    """The label becomes the workflow's branch: it must be a valid branch name."""
    if len(label) > 255:
        raise InvalidInput("label", "is longer than 255 characters")
    parse_reference(f"refs/heads/{label}", "label")
    return label


def _quote(path: str) -> bytes:
    """fast-import's C-style quoted path: any byte is safe in it."""
    out = bytearray(b'"')
    for byte in path.encode("utf-8", "surrogateescape"):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def _clean_path(name: str) -> str | None:
    """The entry's path inside the tree; None for the root and for `.git` metadata (a
    working copy's own, which no commit can hold)."""
    if name.startswith("/"):
        raise InvalidInput(FIELD, f"{name!r}: absolute paths are not allowed")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(FIELD, f"{name!r}: paths may not contain '..'")
    if not parts or ".git" in parts:
        return None
    path = "/".join(parts)
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise InvalidInput(FIELD, f"a path is longer than {MAX_PATH_BYTES} bytes")
    return path


def _check_link(path: str, target: str) -> None:
    inside = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if target.startswith("/") or inside == ".." or inside.startswith("../"):
        raise InvalidInput(FIELD, f"{path!r}: symbolic link to {target!r} leaves the tree")


def _data(out: IO[bytes], content: bytes) -> None:
    out.write(b"data %d\n" % len(content))
    out.write(content)
    out.write(b"\n")


def _write_entries(archive: bytes, max_unpacked: int, out: IO[bytes]) -> int:
    """Writes one fast-import `M` command per file; returns how many."""
    written = 0
    unpacked = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_ENTRIES:
                    raise InvalidInput(FIELD, f"holds more than {MAX_ENTRIES} entries")
                path = _clean_path(member.name)
                if path is None or member.isdir():
                    continue
                if member.issym():
                    _check_link(path, member.linkname)
                    mode, content = _LINK_MODE, member.linkname.encode("utf-8", "surrogateescape")
                elif member.isfile() or member.islnk():
                    if member.islnk() and _clean_path(member.linkname) is None:
                        raise InvalidInput(FIELD, f"{path!r}: hard link out of the tree")
                    unpacked += member.size
                    if unpacked > max_unpacked:
                        raise InvalidInput(FIELD, f"unpacks to more than {max_unpacked} bytes")
                    source = tar.extractfile(member)
                    content = source.read() if source is not None else b""
                    mode = _EXEC_MODE if member.mode & 0o111 else _FILE_MODE
                else:
                    raise InvalidInput(
                        FIELD,
                        f"{path!r}: only files, directories and symbolic links are allowed",
                    )
                out.write(b"M %s inline %s\n" % (mode.encode(), _quote(path)))
                _data(out, content)
                written += 1
    except (tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError, OSError):
        raise InvalidInput(FIELD, "is not a gzip-compressed tar archive") from None
    return written


@dataclass(frozen=True)
class Author:
    name: str
    email: str
    epoch: int


def _commit(out: IO[bytes], ref: str, author: Author, label: str) -> None:
    who = f"{author.name} <{author.email}> {author.epoch} +0000".encode()
    out.write(f"commit {ref}\n".encode())
    out.write(b"author " + who + b"\ncommitter " + who + b"\n")
    _data(out, f"Snapshot {label}\n".encode())


class SnapshotStore:
    """Where the snapshots' own repositories live: <root>/<snapshot id>.git."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.root = root
        self.timeout = timeout

    def path(self, snapshot_id: str) -> Path:
        return self.root / f"{snapshot_id}.git"

    def create(
        self,
        mirror: Repository,
        snapshot_id: str,
        label: str,
        archive: bytes,
        author: Author,
        max_unpacked: int,
    ) -> Snapshot:
        """Raises InvalidInput (naming snapshot_archive) before anything is written."""
        with tempfile.TemporaryFile() as entries:
            if _write_entries(archive, max_unpacked, entries) == 0:
                raise InvalidInput(FIELD, "holds no files")
            own = self.path(snapshot_id)
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                _run(["git", "init", "--quiet", "--bare", str(own)], self.timeout)
                branch = f"refs/heads/{label}"
                sha = self._import(own, branch, entries, author, label)
                _run(["git", "--git-dir", str(own), "symbolic-ref", "HEAD", branch], self.timeout)
            except BaseException:
                shutil.rmtree(own, ignore_errors=True)
                raise
            with mirror.locked_created():
                ref = mirror_ref(snapshot_id, label)
                mirrored = self._import(mirror.path, ref, entries, author, label)
        assert mirrored == sha, "the same stream gives the same commit"
        return Snapshot(snapshot_id, label, sha)

    def _import(
        self, git_dir: Path, ref: str, entries: IO[bytes], author: Author, label: str
    ) -> str:
        with tempfile.TemporaryFile() as stream:
            _commit(stream, ref, author, label)
            entries.seek(0)
            shutil.copyfileobj(entries, stream)
            stream.write(b"done\n")
            stream.seek(0)
            _run(
                ["git", "--git-dir", str(git_dir), "fast-import", "--quiet", "--done"],
                self.timeout,
                stdin=stream,
            )
        return _run(["git", "--git-dir", str(git_dir), "rev-parse", ref], self.timeout).strip()


def upload_pack(git_dir: Path, body: bytes, timeout: float, *, advertise: bool) -> bytes:
    """git's smart-HTTP fetch (protocol v0, stateless): the refs, or the pack asked for."""
    args = ["git", "upload-pack", "--stateless-rpc", "--strict"]
    if advertise:
        args.append("--advertise-refs")
    done = subprocess.run(
        [*args, str(git_dir)],
        input=body,
        capture_output=True,
        timeout=timeout,
        check=False,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "LC_ALL": "C"},
    )
    return done.stdout


def _run(args: list[str], timeout: float, stdin: IO[bytes] | None = None) -> str:
    done = subprocess.run(args, stdin=stdin, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[3] if len(args) > 3 else args[1]} failed: {done.stderr!r}")
    return done.stdout.decode()
