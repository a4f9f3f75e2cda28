"""One page of a query: its rows, and how many rows the whole query has.

Reading one row past the page tells whether more follow; only then is a COUNT needed, so a
list that fits on the page (the common poll) costs one query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.ext.asyncio import AsyncSession


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    offset: int,
    limit: int,
    *,
    entities: bool = True,
    count: Select[Any] | None = None,
) -> tuple[list[Any], int]:
    """(rows, total). `entities`: one ORM entity per row; otherwise whole rows. `count`:
    a cheaper query of the same total (without a join the filters do not need)."""
    result = await session.execute(query.offset(offset).limit(limit + 1))
    rows = list(result.scalars().all() if entities else result.all())
    if len(rows) <= limit and (rows or offset == 0):
        return rows, offset + len(rows)
    if count is None:
        count = query.with_only_columns(func.count(), maintain_column_froms=True)
    return rows[:limit], int((await session.execute(count.order_by(None))).scalar_one())
