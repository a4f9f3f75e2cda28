"""One page of a query: its rows, and how many rows the whole query has.

Reading one row past the page tells whether more follow; only then is a COUNT needed, so a
list that fits on the page (the common poll) costs one query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def fetch_page(
    session: AsyncSession, query: Select[Any], offset: int, limit: int, *, entities: bool = True
) -> tuple[list[Any], int]:
    """(rows, total). `entities`: one ORM entity per row; otherwise whole rows."""
    result = await session.execute(query.offset(offset).limit(limit + 1))
    rows = list(result.scalars().all() if entities else result.all())
    if len(rows) <= limit and (rows or offset == 0):
        return rows, offset + len(rows)
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return rows[:limit], int((await session.execute(counted)).scalar_one())
