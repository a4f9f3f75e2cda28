"""Organization and project secrets by name: env var names and file paths, never values."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from blockpost.api.deps import CallerDep, SealerDep, SessionDep
from blockpost.api.pagination import Page, PageNumber
from blockpost.services import projects, secrets
from blockpost.services.principal import require_admin
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 100


@router.get("/secrets")
async def secret_list(
    request: Request,
    session: SessionDep,
    sealer: SealerDep,
    caller: CallerDep,
    page_number: PageNumber = 1,
) -> Response:
    paging = Page(page_number, PAGE_SIZE)
    visible, total = await projects.list_projects(session, caller, paging.offset, PAGE_SIZE)
    shown = await secrets.secrets_page(session, sealer, caller, visible)
    context = {
        "organization": shown.organization,
        "scoped": shown.scoped,
        "page_number": page_number,
        "more": paging.has_more(total),
    }
    return page(request, "secrets.html", context)


@router.post("/secrets/delete")
async def delete_secret(request: Request, session: SessionDep, caller: CallerDep) -> Response:
    form = await posted(request)
    project_ref = form.get("project")
    project = await projects.runnable(session, caller, project_ref) if project_ref else None
    if project is None:
        require_admin(caller)
    await secrets.delete_secret(session, caller, project, form.get("name"))
    return RedirectResponse("/ui/secrets", status_code=303)
