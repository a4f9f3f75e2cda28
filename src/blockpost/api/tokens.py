"""API tokens: create (the secret is shown once), list, expire."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.db.engine import after_commit
from blockpost.db.models import ApiToken
from blockpost.services import auth
from blockpost.timefmt import iso_seconds

router = APIRouter(prefix="/api/user/tokens", tags=["tokens"])


class TokenOut(BaseModel):
    id: str = Field(
        description="On create: the token itself. In lists: its public id "
        "(the secret is stored only as a hash); DELETE accepts either."
    )
    created: str
    expired: bool
    user_id: int

    @classmethod
    def of(cls, token: ApiToken, shown_id: str) -> TokenOut:
        return cls(
            id=shown_id,
            created=iso_seconds(token.created_at),
            expired=token.expired_at is not None,
            user_id=token.user_id,
        )


@router.post("", response_model=TokenOut, status_code=201)
async def create_token(session: SessionDep, caller: CallerDep) -> TokenOut:
    """Creates a token for the caller; its `id` is the secret to send as `Bearer <id>`."""
    secret, token = await auth.create_token(session, caller, actor=caller)
    return TokenOut.of(token, secret)


@router.get("", response_model=list[TokenOut])
async def list_tokens(session: SessionDep, caller: CallerDep) -> list[TokenOut]:
    """The caller's tokens, expired ones included, each named by its public id."""
    return [
        TokenOut.of(token, token.public_id) for token in await auth.list_tokens(session, caller)
    ]


@router.delete("/{token_id}", status_code=204, response_class=Response)
async def expire_token(
    token_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    """Expires a token, named by the token itself or by its public id."""
    await auth.expire_token(session, caller, token_id)
    after_commit(session, request.app.state.principals.clear)
    return Response(status_code=204)
