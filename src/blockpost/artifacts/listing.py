"""What people see of artifacts: one directory's entries, in Semaphore's list shape."""

from __future__ import annotations

from typing import Any

from blockpost.artifacts.paths import Key
from blockpost.artifacts.store import ArtifactStore
from blockpost.errors import NotFound


async def entries(store: ArtifactStore, key: Key) -> list[dict[str, Any]]:
    """The files and directories directly in `key` (or the file itself); a path that names
    nothing is NotFound, the level of an owner with no artifacts an empty list."""
    if key.path and (item := await store.stat(key.text)) is not None:
        return [
            {
                "name": key.path.rsplit("/", 1)[-1],
                "path": key.path,
                "is_directory": False,
                "size": item.size,
            }
        ]
    below = await store.list(key.text)
    if not below and key.path:
        raise NotFound("Artifact path not found")
    base = len(Key(key.level, key.owner, "").text) + 1
    seen: dict[str, dict[str, Any]] = {}
    depth = key.path.count("/") + 1 if key.path else 0
    for item in below:
        relative = item.key[base:]
        parts = relative.split("/")
        path = "/".join(parts[: depth + 1])
        if path in seen:
            continue
        if len(parts) > depth + 1:
            seen[path] = {"name": parts[depth], "path": path, "is_directory": True}
        else:
            seen[path] = {
                "name": parts[depth],
                "path": path,
                "is_directory": False,
                "size": item.size,
            }
    return list(seen.values())


async def remove(store: ArtifactStore, key: Key) -> int:
    """Deletes the file at `key`, or every file below it; how many."""
    if key.path and await store.stat(key.text) is not None:
        await store.delete(key.text)
        return 1
    below = await store.list(key.text)
    if not below:
        raise NotFound(f"artifact {key.path!r} not found")
    for item in below:
        await store.delete(item.key)
    return len(below)
