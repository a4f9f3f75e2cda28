"""Login and logout: a password buys an HttpOnly session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import Field

from blockpost.api import cookies
from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.api.request_model import RequestModel
from blockpost.services import auth

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(RequestModel):
    auth: str = Field(min_length=1, max_length=254, description="username or email")
    password: str = Field(min_length=1, max_length=1024)


def client_address(request: Request) -> str:
    # The TCP peer: behind a reverse proxy that is the proxy, unless uvicorn is told to trust
    # its X-Forwarded-For (proxy_headers, forwarded_allow_ips).
    return request.client.host if request.client else ""


@router.post("/login", status_code=204, response_class=Response)
async def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Checks the password and sets the session cookie used by `POST /api/user/tokens`.
    After 5 failures in 5 minutes for one user (whichever spelling of its username or email
    was sent) or from one address: 429 with Retry-After."""
    secret = await auth.password_login(
        session,
        request.app.state.login_limiter,
        body.auth,
        body.password,
        client_address(request),
        settings.session_ttl_seconds,
    )
    response = Response(status_code=204)
    cookies.set_session(request, response, secret, settings.session_ttl_seconds)
    return response


@router.post("/logout", status_code=204, response_class=Response)
async def logout(request: Request, session: SessionDep, _caller: CallerDep) -> Response:
    """Ends the browser session (API tokens are expired with DELETE /api/user/tokens/{id})."""
    secret = request.cookies.get(cookies.SESSION_COOKIE)
    if secret:
        await auth.end_web_session(session, secret)
    response = Response(status_code=204)
    cookies.clear_session(response)
    return response
