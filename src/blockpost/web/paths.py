"""Where the web UI lives: its pages send a browser without a session to the login page,
and its forms are read as forms, not turned into JSON (api/middleware.py)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.types import Scope

PAGES = "/ui/"
LOGIN_PAGE = "/ui/login"
PAGES_PUBLIC = (LOGIN_PAGE, "/ui/static/")


def is_page(path: str) -> bool:
    return path == "/" or path.startswith(PAGES)


# Sent by the pages' own scripts (web/static/): their fetches want a status they can act on
# (reload, and so reach the login page), not a redirect that fetch follows to a login form.
SCRIPT_HEADER = "x-blockpost-script"


def from_script(scope: Scope) -> bool:
    return SCRIPT_HEADER in Headers(scope=scope)


def to_login(scope: Scope) -> RedirectResponse:
    """303 to the login page, which brings the browser back afterwards: to this page, or
    for a form posted after the session ended, to the page the form was on."""
    if scope.get("method") in ("GET", "HEAD"):
        query = scope.get("query_string", b"").decode("latin-1")
        back = scope.get("path", "/") + (f"?{query}" if query else "")
    else:
        referer = urlsplit(Headers(scope=scope).get("referer", ""))
        back = referer.path + (f"?{referer.query}" if referer.query else "")
    target = f"{LOGIN_PAGE}?{urlencode({'next': back})}" if is_page(back) else LOGIN_PAGE
    return RedirectResponse(target, status_code=303)
