"""The projects list."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.api.pagination import Page, PageNumber
from blockpost.services import overview, projects
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 100


@router.get("/projects")
async def project_list(
    request: Request, session: SessionDep, caller: CallerDep, page_number: PageNumber = 1
) -> Response:
    paging = Page(page_number, PAGE_SIZE)
    rows, total = await projects.list_projects(session, caller, paging.offset, PAGE_SIZE)
    latest = await overview.latest_on_default_branch(session, rows)
    context = {
        "projects": rows,
        "latest": latest,
        "page_number": page_number,
        "more": paging.has_more(total),
    }
    return page(request, "projects.html", context)
