"""The one pagination helper: page/page_size query params and the `link` header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response

DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def link_header(self, request: Request, response: Response, has_next: bool) -> None:
        """Writes `link: <…>; rel="first", <…>; rel="next", <…>; rel="prev"` from the URL."""

        def url(page: int) -> str:
            return str(request.url.include_query_params(page=page, page_size=self.page_size))

        links = [f'<{url(1)}>; rel="first"']
        if has_next:
            links.append(f'<{url(self.page + 1)}>; rel="next"')
        if self.page > 1:
            links.append(f'<{url(self.page - 1)}>; rel="prev"')
        response.headers["link"] = ", ".join(links)


def _page(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")
    ] = DEFAULT_PAGE_SIZE,
) -> Page:
    return Page(page=page, page_size=page_size)


PageDep = Annotated[Page, Depends(_page)]
