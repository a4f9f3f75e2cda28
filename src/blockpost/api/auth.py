"""Login and logout: a password buys an HttpOnly session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import Field

from blockpost import events_log
from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.api.middleware import SESSION_COOKIE
from blockpost.api.request_model import RequestModel
from blockpost.errors import NotAuthenticated
from blockpost.services import auth
from blockpost.services.login_limit import LoginLimiter

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(RequestModel):
    auth: str = Field(min_length=1, max_length=254, description="username or email")
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login", status_code=204, response_class=Response)
async def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Checks the password and sets the session cookie used by `POST /api/user/tokens`.
    After 5 failures in 5 minutes for one user (whichever spelling of its username or email
    was sent) or from one address: 429 with Retry-After."""
    limiter: LoginLimiter = request.app.state.login_limiter
    # The TCP peer: behind a reverse proxy that is the proxy, unless uvicorn is told to trust
    # its X-Forwarded-For (proxy_headers, forwarded_allow_ips).
    address = request.client.host if request.client else ""
    keys = (await auth.attempt_key(session, body.auth), f"ip:{address}")
    limiter.check(*keys)
    try:
        user = await auth.login(session, body.auth, body.password)
    except NotAuthenticated:
        limiter.failed(*keys)
        events_log.emit("login.failed", login=body.auth, address=address)
        raise
    limiter.succeeded(auth.user_key(user))
    events_log.emit("login.succeeded", user=user.username, address=address)
    secret = await auth.start_web_session(session, user, settings.session_ttl_seconds)
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", status_code=204, response_class=Response)
async def logout(request: Request, session: SessionDep, _caller: CallerDep) -> Response:
    """Ends the browser session (API tokens are expired with DELETE /api/user/tokens/{id})."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await auth.end_web_session(session, secret)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response
