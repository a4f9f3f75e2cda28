"""Organization and project secrets by name: env var names and file paths, never values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from blockpost.api.deps import CallerDep, SealerDep, SessionDep
from blockpost.crypto import Sealer
from blockpost.db.models import Project, Secret
from blockpost.services import projects, secrets
from blockpost.services.principal import require_admin
from blockpost.services.secrets import SecretData
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 100


@dataclass(frozen=True)
class SecretShown:
    """What a page may show of a secret: the values are dropped here, before any template."""

    name: str
    description: str
    updated_at: datetime
    env_vars: list[str]
    files: list[str]


def _shown(sealer: Sealer, rows: Sequence[Secret]) -> list[SecretShown]:
    shown = []
    for row in rows:
        data = SecretData.unseal(sealer, row.sealed)
        shown.append(
            SecretShown(
                name=row.name,
                description=row.description,
                updated_at=row.updated_at,
                env_vars=[name for name, _ in data.env_vars],
                files=[path for path, _ in data.files],
            )
        )
    return shown


@router.get("/secrets")
async def secret_list(
    request: Request,
    session: SessionDep,
    sealer: SealerDep,
    caller: CallerDep,
    page_number: int = 1,
) -> Response:
    page_number = max(page_number, 1)
    offset = (page_number - 1) * PAGE_SIZE
    visible, total = await projects.list_projects(session, caller, offset, PAGE_SIZE)
    # A project's secrets are its runners' (as the API's project secrets routes decide).
    scoped: list[tuple[Project, list[SecretShown]]] = []
    for project in visible:
        if await projects.may_run(session, caller, project):
            rows = await secrets.list_secrets(session, project)
            scoped.append((project, _shown(sealer, rows)))
    context = {
        "organization": _shown(sealer, await secrets.list_secrets(session, None)),
        "scoped": scoped,
        "page_number": page_number,
        "more": offset + len(visible) < total,
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
