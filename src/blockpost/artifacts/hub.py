"""The artifact hub: signed URLs for Semaphore's artifact CLI (pkg/hub/hub.go).

The CLI asks for PUSH (HEAD + PUT per file: it checks the file is not there yet),
PUSHFORCE (PUT), PULL (GET for the file, or for every file of a directory) and YANK
(DELETE, likewise), then follows the URLs itself.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from blockpost.artifacts.access import JobGrant, check_job_access
from blockpost.artifacts.paths import Key, parse_key
from blockpost.artifacts.store import ArtifactStore
from blockpost.errors import InvalidInput, NotFound

MAX_PATHS = 10_000  # a push of a directory asks for all its files at once


class RequestType(IntEnum):
    PUSH = 0
    PUSHFORCE = 1
    PULL = 2
    YANK = 3


def parse_request(body: Any) -> tuple[list[str], RequestType]:
    """The CLI's JSON: `paths` and `type`, both left out when empty (absent type: PUSH)."""
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    paths = body.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(item, str) for item in paths):
        raise InvalidInput("paths", "must be a list of strings")
    if len(paths) > MAX_PATHS:
        raise InvalidInput("paths", f"at most {MAX_PATHS} paths at once")
    kind = body.get("type", 0)
    if isinstance(kind, bool) or not isinstance(kind, int) or kind not in set(RequestType):
        raise InvalidInput("type", "must be 0 (PUSH), 1 (PUSHFORCE), 2 (PULL) or 3 (YANK)")
    return paths, RequestType(kind)


async def files_at(store: ArtifactStore, key: Key) -> list[str]:
    """The keys of the file at `key`, or of the files below it if it is a directory."""
    if key.path and await store.stat(key.text) is not None:
        return [key.text]
    return [item.key for item in await store.list(key.text)]


async def signed_urls(
    store: ArtifactStore, grant: JobGrant, paths: list[str], kind: RequestType, base_url: str
) -> list[dict[str, str]]:
    keys = [parse_key(path) for path in paths]
    for key in keys:
        check_job_access(grant, key)
    urls: list[dict[str, str]] = []

    def add(key: str, method: str) -> None:
        urls.append({"url": store.signed_url(key, method, base_url), "method": method})

    for key in keys:
        if kind == RequestType.PUSH:
            add(key.text, "HEAD")
            add(key.text, "PUT")
        elif kind == RequestType.PUSHFORCE:
            add(key.text, "PUT")
        else:
            found = await files_at(store, key)
            if not found:
                raise NotFound(f"artifact {key.path!r} not found")
            for each in found:
                add(each, "GET" if kind == RequestType.PULL else "DELETE")
    return urls
