"""The one pagination helper: page/page_size query params and the paging headers.

Headers as Semaphore's paginator sends them: `link` (first, next, prev, last), `total`,
`per-page`, `total-pages`, `page-number`; and `x-page`/`x-has-more`, which the `sem` CLI
reads to walk project lists (it stops at the first page without them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response

DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 200
# Past any real list, and small enough that an offset never overflows a database integer.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def has_more(self, total: int) -> bool:
        return self.page * self.page_size < total

    def headers(self, request: Request, response: Response, total: int) -> None:
        """Writes the paging headers for a list of `total` items in all."""

        def url(page: int) -> str:
            return str(request.url.include_query_params(page=page, page_size=self.page_size))

        pages = max(1, -(-total // self.page_size))
        has_next = self.page < pages
        links = [f'<{url(1)}>; rel="first"']
        if has_next:
            links.append(f'<{url(self.page + 1)}>; rel="next"')
        if self.page > 1:
            links.append(f'<{url(min(self.page - 1, pages))}>; rel="prev"')
        links.append(f'<{url(pages)}>; rel="last"')
        response.headers["link"] = ", ".join(links)
        response.headers["total"] = str(total)
        response.headers["per-page"] = str(self.page_size)
        response.headers["total-pages"] = str(pages)
        response.headers["page-number"] = str(self.page)
        response.headers["x-page"] = str(self.page)
        response.headers["x-has-more"] = "true" if has_next else "false"


def _page(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")
    ] = DEFAULT_PAGE_SIZE,
) -> Page:
    return Page(page=page, page_size=page_size)


PageDep = Annotated[Page, Depends(_page)]
# The web UI's lists take a page number only: each page shows as many rows as suits it.
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
