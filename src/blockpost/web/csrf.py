"""CSRF tokens for the UI's forms: bound to a browser cookie and to the login session."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from blockpost.api.cookies import SESSION_COOKIE

COOKIE = "blockpost_csrf"
FIELD = "csrf_token"


def _key(request: Request) -> bytes:
    key: str = request.app.state.settings.secret_key
    return key.encode()


def _browser(request: Request) -> str:
    """The browser's CSRF cookie, made for this request when it has none yet (the login page
    needs a token before there is a session)."""
    value = request.cookies.get(COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = value
    return value


def token_for(request: Request) -> str:
    """HMAC of the browser cookie and the session: another site can read neither, and a token
    copied from one's own session is worthless in someone else's."""
    message = f"{_browser(request)}|{request.cookies.get(SESSION_COOKIE, '')}".encode()
    return hmac.new(_key(request), message, hashlib.sha256).hexdigest()


def valid(request: Request, sent: str | None) -> bool:
    if not sent or not request.cookies.get(COOKIE):
        return False
    return hmac.compare_digest(sent, token_for(request))


def keep_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf_cookie", None)
    if new:
        response.set_cookie(
            COOKIE, new, httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
