"""The cache's cleanup pass: archives that no entry records (an upload never recorded, a
project that was deleted) are removed once no signed upload URL could still be writing
them, and entries whose archive is gone from the store are dropped."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_

from blockpost.artifacts.store import ArtifactStore
from blockpost.background import LoopService
from blockpost.cache.names import ROOT
from blockpost.db.engine import Database
from blockpost.db.models import CacheEntry
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)

BATCH = 500


class CacheCleanup(LoopService):
    """Every replica runs it: a pass only deletes what is already unwanted, so two at once
    do no harm, and it holds no leader connection out of the pool."""

    name = "cache-cleanup"

    def __init__(
        self, db: Database, store: ArtifactStore, interval: float, upload_seconds: int
    ) -> None:
        super().__init__()
        self.db = db
        self.store = store
        self.interval = interval
        # an archive younger than a signed upload URL's life may be an upload in progress
        self.grace = timedelta(seconds=upload_seconds + 60)

    async def one_pass(self) -> None:
        removed = await self.run_once()
        if removed:
            log.info("cache cleanup removed %d archives or entries", removed)

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass; how many archives and entries it removed."""
        now = now or utcnow()
        listed_at = utcnow()
        objects = {
            tuple(item.key.split("/", 2)[1:]): item
            for item in await self.store.list(ROOT)
            if item.key.count("/") == 2
        }
        async with self.db.session() as session:
            recorded = {
                (row.project_id, row.name): row.stored_at
                for row in await session.execute(
                    select(CacheEntry.project_id, CacheEntry.name, CacheEntry.stored_at)
                )
            }
            # gone from the store (a restore of them could only fail); an entry recorded
            # since the listing is not in it yet
            lost = [
                key for key, stored in recorded.items() if key not in objects and stored < listed_at
            ]
            for start in range(0, len(lost), BATCH):
                await session.execute(
                    delete(CacheEntry).where(
                        tuple_(CacheEntry.project_id, CacheEntry.name).in_(
                            lost[start : start + BATCH]
                        )
                    )
                )
        removed = len(lost)
        for key, item in objects.items():
            if key not in recorded and now - item.modified > self.grace:
                await self.store.delete(item.key)
                removed += 1
        return removed
