"""Liveness and documentation: /healthz and a Swagger UI served from local assets."""

from __future__ import annotations

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from blockpost import __version__

router = APIRouter(tags=["meta"])
SWAGGER_ASSETS = "/swagger/assets"


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


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
