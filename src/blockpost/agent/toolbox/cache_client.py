"""The server side of `cache`: blockpost's /api/v1/cache routes, reached with the job's
SEMAPHORE_ARTIFACT_TOKEN, and the signed URLs they hand out for the archives' bytes."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, BinaryIO

from . import hub
from .hub import HubError, SignedURL

TIMEOUT = 600.0
CHUNK = 1 << 20


class CacheError(Exception):
    """A request failed; the message says why, as the cache CLI's `error: …` does."""


class Exists(CacheError):
    """The key is stored already."""


class Missing(CacheError):
    """No such key."""


class TooLarge(CacheError):
    """The archive is larger than the project may keep."""


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> Client:
        environment = dict(os.environ) if env is None else env
        token = environment.get("SEMAPHORE_ARTIFACT_TOKEN", "")
        if not token:
            raise CacheError("no SEMAPHORE_ARTIFACT_TOKEN set")
        url = environment.get("SEMAPHORE_ORGANIZATION_URL", "")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CacheError(f"no SEMAPHORE_ORGANIZATION_URL set (got '{url}')")
        base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/api/v1/cache", "", ""))
        return cls(base, token)

    def _call(self, method: str, path: str, fields: dict[str, Any] | None = None) -> Any:
        headers = {"authorization": self.token}
        payload = b""
        if fields is not None:
            payload = json.dumps(fields).encode()
            headers["Content-Type"] = "application/json"
        try:
            answer = hub.request(
                method, self.base + path, headers, body=(lambda: payload) if payload else None
            )
        except HubError as exc:
            raise CacheError(str(exc)) from None
        try:
            decoded = json.loads(answer.body) if answer.body else {}
        except ValueError:
            decoded = {}
        message = decoded.get("message", "") if isinstance(decoded, dict) else ""
        if answer.status == 409:
            raise Exists(message)
        if answer.status == 404:
            raise Missing(message)
        if answer.status == 400 and message.startswith("size: "):
            raise TooLarge(message[len("size: ") :])
        if not answer.ok:
            raise CacheError(
                f"{method} {self.base + path} failed with {answer.status} status code: {message}"
            )
        return decoded

    @staticmethod
    def _key(name: str) -> str:
        return "/keys/" + urllib.parse.quote(name, safe="")

    def listing(self) -> dict[str, Any]:
        """{"keys": [{name, size, compression, stored_at, last_used_at}], used, free, limit};
        keys newest stored first."""
        found: dict[str, Any] = self._call("GET", "")
        return found

    def has_key(self, name: str) -> bool:
        try:
            self._call("GET", self._key(name))
        except Missing:
            return False
        return True

    def store(self, name: str, archive: str, compression: str) -> list[str]:
        """Uploads the archive (streamed from disk) as the key; the keys evicted for it."""
        size = os.path.getsize(archive)
        url = self._call("POST", self._key(name) + "/upload", {"size": size})["url"]
        try:
            hub.upload(SignedURL(url, "PUT"), archive)
        except HubError as exc:
            raise CacheError(str(exc)) from None
        recorded = self._call("POST", self._key(name), {"compression": compression})
        return [str(each) for each in recorded.get("evicted", [])]

    def open_archive(self, name: str) -> tuple[dict[str, Any], BinaryIO]:
        """The key's entry and its archive as a stream to read."""
        answer = self._call("POST", self._key(name) + "/download")
        # no proxy: the job reaches the server as the other toolbox commands do
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            stream = opener.open(answer["url"], timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            raise CacheError(f"GET {answer['url']} failed with {exc.code} status code") from None
        except OSError as exc:
            raise CacheError(f"GET {answer['url']} failed: {exc}") from None
        return answer["key"], stream

    def delete(self, name: str) -> None:
        self._call("DELETE", self._key(name))

    def clear(self) -> int:
        return int(self._call("DELETE", "/keys").get("deleted", 0))
