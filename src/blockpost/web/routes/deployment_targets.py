"""Deployment targets of the projects the caller sees: rules, state, history; cordon."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.api.pagination import Page, PageNumber
from blockpost.services import deployment_targets as targets
from blockpost.services import projects, target_pages
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE = "/ui/deployment_targets"
PAGE_SIZE = 50


@router.get("/deployment_targets")
async def target_list(
    request: Request, session: SessionDep, caller: CallerDep, page_number: PageNumber = 1
) -> Response:
    paging = Page(page_number, PAGE_SIZE)
    visible, total = await projects.list_projects(session, caller, paging.offset, PAGE_SIZE)
    context = {
        "per_project": await target_pages.targets_of(session, caller, visible),
        "page_number": page_number,
        "more": paging.has_more(total),
    }
    return page(request, "deployment_targets.html", context)


@router.post("/deployment_targets/{target_id}/cordon")
async def cordon(
    target_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    """`cordoned=true` refuses promotions through the target until `cordoned=false`."""
    form = await posted(request)
    target = await targets.manageable_target(session, caller, target_id)
    await targets.set_cordoned(session, caller, target, form.get("cordoned") == "true")
    return RedirectResponse(f"{PAGE}#target-{target.id}", status_code=303)
