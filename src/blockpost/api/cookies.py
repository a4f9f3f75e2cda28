"""The browser session cookie, set and cleared the same way by the API and the web UI."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "blockpost_session"


def set_session(request: Request, response: Response, secret: str, max_age: int) -> None:
    # Secure whenever the browser reached us over TLS (directly or through a proxy that
    # uvicorn is told to trust), so the cookie never travels in clear text after that.
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
