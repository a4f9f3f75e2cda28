"""The web UI's routers, one module a page group, all under /ui, and its static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from blockpost.web.forms import form_guard
from blockpost.web.render import STATIC_URL
from blockpost.web.routes import (
    agents,
    deployment_targets,
    pipelines,
    project_page,
    projects,
    secrets,
    session,
    tokens,
    workflow_page,
)

STATIC = Path(__file__).parent.parent / "static"
MODULES = (
    session,
    projects,
    agents,
    deployment_targets,
    secrets,
    tokens,
    pipelines,
    project_page,
    workflow_page,
)


def install(app: FastAPI) -> None:
    for module in MODULES:
        app.include_router(module.router, dependencies=[Depends(form_guard)])
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="ui-static")
