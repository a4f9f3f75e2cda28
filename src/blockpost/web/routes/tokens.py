"""The caller's API tokens: create (the secret shown once), list, expire."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.db.engine import after_commit
from blockpost.services import auth
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/tokens")
async def token_list(request: Request, session: SessionDep, caller: CallerDep) -> Response:
    tokens = await auth.list_tokens(session, caller)
    return page(request, "tokens.html", {"tokens": list(reversed(tokens))})


@router.post("/tokens")
async def create_token(request: Request, session: SessionDep, caller: CallerDep) -> Response:
    secret, token = await auth.create_token(session, caller, actor=caller)
    # The secret exists only in this answer (stored as a hash): no redirect, and no caching.
    context = {"secret": secret, "token": token, "server": str(request.base_url).rstrip("/")}
    return page(request, "token_created.html", context, 201)


@router.post("/tokens/{token_id}/expire")
async def expire_token(
    token_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    await auth.expire_token(session, caller, token_id)
    after_commit(session, request.app.state.principals.clear)
    return RedirectResponse("/ui/tokens", status_code=303)
