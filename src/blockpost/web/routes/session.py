"""Login, logout and the site root."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from blockpost.api import cookies
from blockpost.api.auth import client_address
from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.errors import NotAuthenticated
from blockpost.services import auth
from blockpost.services.login_limit import TooManyAttempts
from blockpost.web.forms import posted
from blockpost.web.paths import LOGIN_PAGE
from blockpost.web.render import page

router = APIRouter(include_in_schema=False)
HOME = "/ui/projects"


def _safe_next(value: str) -> str:
    """Only a path on this server: an open redirect would let a link log people in elsewhere."""
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return HOME


@router.get("/")
async def root(_caller: CallerDep) -> RedirectResponse:
    """The middleware sends a browser without a session to the login page instead."""
    return RedirectResponse(HOME, status_code=303)


@router.get(LOGIN_PAGE)
async def login_page(request: Request, next: str = HOME) -> Response:
    return page(request, "login.html", {"next": _safe_next(next)})


@router.post(LOGIN_PAGE)
async def login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await posted(request)
    back = _safe_next(form.get("next", HOME))
    try:
        secret = await auth.password_login(
            session,
            request.app.state.login_limiter,
            form.get("auth").strip(),
            form.get("password"),
            client_address(request),
            settings.session_ttl_seconds,
        )
    except (NotAuthenticated, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        context = {"next": back, "error": exc.message, "login": form.get("auth")}
        shown = page(request, "login.html", context, status)
        if isinstance(exc, TooManyAttempts):
            shown.headers["Retry-After"] = str(exc.retry_after)
        return shown
    response = RedirectResponse(back, status_code=303)
    cookies.set_session(request, response, secret, settings.session_ttl_seconds)
    return response


@router.post("/ui/logout")
async def logout(request: Request, session: SessionDep, _caller: CallerDep) -> Response:
    secret = request.cookies.get(cookies.SESSION_COOKIE)
    if secret:
        await auth.end_web_session(session, secret)
    response = RedirectResponse(LOGIN_PAGE, status_code=303)
    cookies.clear_session(response)
    return response
