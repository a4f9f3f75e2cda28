"""Renders pages: one Jinja2 environment, the security headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from blockpost import timefmt
from blockpost.web import csrf

TEMPLATES = Path(__file__).parent / "templates"
STATIC_URL = "/ui/static"
# No inline script or style anywhere: scripts and styles come from /ui/static only, so an
# injected <script> or style attribute does nothing even if escaping ever failed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "svg")),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["static"] = STATIC_URL
environment.filters["when"] = timefmt.human
environment.globals["duration"] = timefmt.duration


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A whole page, or a fragment (templates under `parts/`) for the live-update script."""
    values = {
        "request": request,
        "caller": getattr(request.state, "principal", None),
        "csrf_token": csrf.token_for(request),
        **(context or {}),
    }
    body = environment.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    csrf.keep_cookie(request, response)
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """What a browser sees where the API would answer `{"message": ...}`."""
    return page(request, "error.html", {"status": status, "message": message}, status)
