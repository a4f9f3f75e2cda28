"""A project's cache entries: listing, usage, storing (signed upload, then recorded), restoring
(a signed download that counts as a use), deleting, and least-recently-used eviction.

The archive's bytes go between the job and the store through signed URLs; this module only
hands out the URLs and keeps the table of what is stored (db/models/cache.py). An entry is
recorded once its upload is in the store, so a half-stored key is never listed or restored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.artifacts.store import ArtifactStore
from blockpost.cache.names import human_size, object_key, project_prefix
from blockpost.db.models import CacheEntry
from blockpost.errors import Conflict, InvalidInput, NotFound
from blockpost.timefmt import utcnow


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)


def exists_message(name: str) -> str:
    return f"Key '{name}' already exists."


def missing_message(name: str) -> str:
    return f"Key '{name}' doesn't exist in the cache store."


def too_large(limit: int) -> InvalidInput:
    return InvalidInput("size", f"Archive exceeds allocated {human_size(limit)} for cache.")


async def listed(session: AsyncSession, project_id: str) -> list[CacheEntry]:
    """Newest stored first, as the cache CLI lists and matches keys by default."""
    rows = await session.scalars(
        select(CacheEntry)
        .where(CacheEntry.project_id == project_id)
        .order_by(CacheEntry.stored_at.desc(), CacheEntry.name)
    )
    return list(rows)


async def usage(session: AsyncSession, project_id: str, limit: int) -> Usage:
    used = await session.scalar(
        select(func.coalesce(func.sum(CacheEntry.size), 0)).where(
            CacheEntry.project_id == project_id
        )
    )
    return Usage(int(used or 0), limit)


async def find(session: AsyncSession, project_id: str, name: str) -> CacheEntry | None:
    return await session.get(CacheEntry, (project_id, name))


async def upload_url(
    session: AsyncSession,
    store: ArtifactStore,
    project_id: str,
    name: str,
    size: int,
    limit: int,
    base_url: str,
) -> str:
    """A URL to PUT the archive of a key not stored yet (Conflict if it is) that fits in
    the project's limit on its own."""
    if await find(session, project_id, name) is not None:
        raise Conflict(exists_message(name))
    if size > limit:
        raise too_large(limit)
    return store.signed_url(object_key(project_id, name), "PUT", base_url)


async def record(
    session: AsyncSession,
    store: ArtifactStore,
    project_id: str,
    name: str,
    compression: str,
    limit: int,
) -> tuple[CacheEntry, list[str]]:
    """Records an uploaded archive as the key's entry, then evicts the project's least
    recently used other keys until the project fits its limit again; (entry, evicted)."""
    item = await store.stat(object_key(project_id, name))
    if item is None:
        raise NotFound(f"no archive was uploaded for key '{name}'")
    if await find(session, project_id, name) is not None:
        raise Conflict(exists_message(name))
    if item.size > limit:
        await store.delete(item.key)
        raise too_large(limit)
    now = utcnow()
    entry = CacheEntry(
        project_id=project_id,
        name=name,
        size=item.size,
        compression=compression,
        stored_at=now,
        used_at=now,
    )
    session.add(entry)
    try:
        await session.flush()
    except IntegrityError:
        # another job recorded the same key in the meantime; its entry stays
        raise Conflict(exists_message(name)) from None
    return entry, await evict(session, store, project_id, limit, keep=name)


async def evict(
    session: AsyncSession, store: ArtifactStore, project_id: str, limit: int, keep: str
) -> list[str]:
    """Deletes the least recently used keys but `keep` while the project is over its limit."""
    used = (await usage(session, project_id, limit)).used
    evicted: list[str] = []
    if used <= limit:
        return evicted
    candidates = await session.scalars(
        select(CacheEntry)
        .where(CacheEntry.project_id == project_id, CacheEntry.name != keep)
        .order_by(CacheEntry.used_at, CacheEntry.stored_at, CacheEntry.name)
    )
    for entry in list(candidates):
        if used <= limit:
            break
        await session.delete(entry)
        await store.delete(object_key(project_id, entry.name))
        used -= entry.size
        evicted.append(entry.name)
    await session.flush()
    return evicted


async def download_url(
    session: AsyncSession, store: ArtifactStore, project_id: str, name: str, base_url: str
) -> tuple[CacheEntry, str]:
    """The entry and a URL to GET its archive; a restore is a use, so it moves to the back
    of the eviction order."""
    entry = await find(session, project_id, name)
    if entry is None:
        raise NotFound(missing_message(name))
    entry.used_at = utcnow()
    await session.flush()
    return entry, store.signed_url(object_key(project_id, name), "GET", base_url)


async def remove(session: AsyncSession, store: ArtifactStore, project_id: str, name: str) -> None:
    entry = await find(session, project_id, name)
    if entry is None:
        raise NotFound(missing_message(name))
    await session.delete(entry)
    await session.flush()
    await store.delete(object_key(project_id, name))


async def clear(session: AsyncSession, store: ArtifactStore, project_id: str) -> int:
    """Deletes every key of the project, and any upload that was never recorded; how many
    keys there were."""
    result = await session.execute(delete(CacheEntry).where(CacheEntry.project_id == project_id))
    for item in await store.list(project_prefix(project_id)):
        await store.delete(item.key)
    return int(getattr(result, "rowcount", 0) or 0)
