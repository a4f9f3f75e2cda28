"""One page of a query: its rows, and whether another page follows.

Reading one row past the page answers "is there a next page?" without a COUNT, which on a
project's whole history grows with every run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession


async def fetch_page(
    session: AsyncSession, query: Select[Any], offset: int, limit: int, *, entities: bool = True
) -> tuple[list[Any], bool]:
    """`entities`: one ORM entity per row; otherwise whole rows (several entities each)."""
    result = await session.execute(query.offset(offset).limit(limit + 1))
    rows = list(result.scalars().all() if entities else result.all())
    return rows[:limit], len(rows) > limit
