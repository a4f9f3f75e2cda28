"""One leader among server replicas for a loop service: a PostgreSQL advisory lock.

SQLite serves one server process, which is always the leader.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from blockpost.db.engine import Database

log = logging.getLogger(__name__)


class LeaderLock:
    def __init__(self, db: Database, key: int) -> None:
        self.db = db
        self.key = key
        self._conn: AsyncConnection | None = None

    async def held(self) -> bool:
        """True while this process leads; tries to take the lead when it does not."""
        if self.db.dialect != "postgresql":
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("leader connection lost; trying to lead again", exc_info=True)
                await self.release()
        conn = await self.db.engine.connect()
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
        except Exception:
            await conn.close()
            raise
        if got:
            self._conn = conn
            return True
        await conn.close()
        return False

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            # close() would hand the connection, lock and all, back to the pool
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await conn.close()
            except Exception:
                await conn.invalidate()
