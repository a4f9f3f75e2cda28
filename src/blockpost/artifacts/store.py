"""Where artifact files live, behind one small interface: a local directory or S3.

Callers name objects by key (`artifacts/<level>/<id>/<path>`, see paths.py) and hand
clients signed URLs; the bytes never go through the API's routers. The local store's
URLs point at this server's signed routes (api/artifacts.py), which stream to and from
disk; S3's are presigned URLs of the object store itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

from blockpost.errors import Conflict

UPLOADS = ".uploads"  # beside the keys (one filesystem, so a finished upload is a rename)
WRITE_BUFFER = 1024 * 1024
PLACE_ATTEMPTS = 5


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


class ArtifactStore(Protocol):
    async def stat(self, key: str) -> ObjectInfo | None:
        """The object stored under exactly this key, if any."""

    async def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object below the directory `prefix` (recursively), sorted by key."""

    async def delete(self, key: str) -> None:
        """Removes one object; a missing one is no error."""

    def signed_url(self, key: str, method: str, base_url: str) -> str:
        """A URL that lets its holder do `method` on the object until it expires.
        `base_url` is this server as the caller reached it (used by the local store)."""


def url_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"blockpost-artifact-url", hashlib.sha256).digest()


# Semaphore's artifact CLI finds the object's key in the URL of a pull: for a 127.0.0.1
# host the whole path is the key; for any other host (which must be https, with no port)
# it skips two segments first (its "custom domain" form, pkg/api/signed_url.go).
LOOPBACK_PREFIX = ""
DOMAIN_PREFIX = "/artifact-store/v1"


def route_prefix(base_url: str) -> str:
    host = urlsplit(base_url).hostname or ""
    return LOOPBACK_PREFIX if host.startswith("127.0.0.1") else DOMAIN_PREFIX


class LocalStore:
    """Files under `root` by key; uploads land in root/.uploads and are renamed into place,
    so a reader sees the old file or the new one, never half of one."""

    def __init__(self, root: Path, secret_key: str, url_seconds: int) -> None:
        self.root = root.resolve()
        self._url_key = url_key(secret_key)
        self.url_seconds = url_seconds

    def path_of(self, key: str) -> Path:
        return self.root / key

    async def stat(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str) -> ObjectInfo | None:
        try:
            info = self.path_of(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not os.path.isfile(self.path_of(key)):
            return None
        return ObjectInfo(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    async def list(self, prefix: str) -> list[ObjectInfo]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[ObjectInfo]:
        top = self.path_of(prefix)
        found: list[ObjectInfo] = []
        for directory, _, names in os.walk(top):
            for name in names:
                path = Path(directory) / name
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue  # deleted while we walked
                key = path.relative_to(self.root).as_posix()
                found.append(
                    ObjectInfo(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))
                )
        return sorted(found, key=lambda item: item.key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return
        # Empty directories left behind would list as nothing but keep a file from taking
        # their name; stop at artifacts/<level>/<id>.
        stop = self.root.joinpath(*key.split("/")[:3])
        parent = path.parent
        while parent != stop and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    async def write(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Stores the streamed bytes under `key`, replacing what was there; the size.
        The disk writes of one buffer overlap receiving the next."""
        uploads = self.root / UPLOADS
        await asyncio.to_thread(uploads.mkdir, parents=True, exist_ok=True)
        temp = uploads / secrets.token_hex(12)
        size = 0
        handle = await asyncio.to_thread(open, temp, "wb")
        writing: asyncio.Future[int] | None = None
        try:
            buffer = bytearray()
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= WRITE_BUFFER:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(handle.write, buffer))
                    buffer = bytearray()
            if writing is not None:
                await writing
            await asyncio.to_thread(handle.write, buffer)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(self._place, temp, self.path_of(key))
        except BaseException:
            if writing is not None and not writing.done():
                with contextlib.suppress(BaseException):
                    await writing
            handle.close()
            temp.unlink(missing_ok=True)
            raise
        return size

    def _place(self, temp: Path, target: Path) -> None:
        # A delete of the last file in a directory removes it (see _delete); one running
        # between our mkdir and the rename takes the directory we just made: make it again.
        for attempt in range(PLACE_ATTEMPTS):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_dir():
                    raise IsADirectoryError(target)
                os.replace(temp, target)
                return
            except FileNotFoundError:
                if attempt == PLACE_ATTEMPTS - 1 or not temp.exists():
                    raise
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                temp.unlink(missing_ok=True)
                raise Conflict("a file and a directory of artifacts cannot share a name") from None

    def signed_url(self, key: str, method: str, base_url: str) -> str:
        expires = int(time.time()) + self.url_seconds
        query = urlencode({"expires": expires, "signature": self._sign(key, method, expires)})
        path = quote(f"{route_prefix(base_url)}/{key}")
        return f"{base_url.rstrip('/')}{path}?{query}"

    def _sign(self, key: str, method: str, expires: int) -> str:
        message = f"{method}\n{key}\n{expires}".encode()
        return hmac.new(self._url_key, message, hashlib.sha256).hexdigest()

    def verify(self, key: str, method: str, expires: str, signature: str) -> bool:
        """A HEAD may use a GET URL, as object stores allow."""
        if not expires.isdigit() or int(expires) < time.time():
            return False
        methods = ("HEAD", "GET") if method == "HEAD" else (method,)
        return any(
            hmac.compare_digest(self._sign(key, each, int(expires)), signature) for each in methods
        )
