"""Liveness and documentation: /healthz and a Swagger UI served from local assets."""

from __future__ import annotations

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from blockpost import __version__
from blockpost.api.deps import SessionDep
from blockpost.db import migrate
from blockpost.metrics import Metrics

router = APIRouter(tags=["meta"])
SWAGGER_ASSETS = "/swagger/assets"


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


class Ready(BaseModel):
    status: str
    schema_revision: str


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"description": "database unreachable, or its schema is not this version's"}},
)
async def readyz(request: Request) -> Ready | JSONResponse:
    """Ready to serve: the database answers and its schema is the one this server needs."""
    head = migrate.head_revision()
    try:
        current = await migrate.current_revision(request.app.state.db)
    except Exception as exc:
        return JSONResponse(
            {"message": f"database unreachable: {type(exc).__name__}"}, status_code=503
        )
    if current != head:
        return JSONResponse(
            {
                "message": f"database schema is at {current or 'nothing'}, this server needs "
                f"{head}: run `blockpost db upgrade`"
            },
            status_code=503,
        )
    return Ready(status="ready", schema_revision=head)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request, session: SessionDep) -> PlainTextResponse:
    """Prometheus text format: queue depth, pickup latency, jobs, pipelines and agents by
    state, sync and log rates, scheduler lag. Open like /healthz (counts only)."""
    collected: Metrics = request.app.state.metrics
    return PlainTextResponse(await collected.exposition(session), media_type=CONTENT_TYPE_LATEST)


@router.get("/swagger", include_in_schema=False)
async def swagger() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="blockpost API",
        swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
    )


def mount_swagger_assets(app: FastAPI) -> None:
    app.mount(
        SWAGGER_ASSETS,
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-assets",
    )
