"""The caller (`/api/user`) and, for administrators, every user (`/api/users`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from blockpost.api.deps import AdminDep, CallerDep, SessionDep
from blockpost.api.pagination import PageDep
from blockpost.api.request_model import RequestModel
from blockpost.db.models import User
from blockpost.services import users
from blockpost.timefmt import iso_seconds

router = APIRouter(prefix="/api", tags=["users"])


class UserOut(BaseModel):
    id: int
    uuid: str
    username: str
    name: str
    email: str | None
    admin: bool
    created: str = Field(description="creation time, `YYYY-MM-DDTHH:MM:SSZ`")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            uuid=user.uuid,
            username=user.username,
            name=user.name,
            email=user.email,
            admin=user.admin,
            created=iso_seconds(user.created_at),
        )


class UserIn(RequestModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field(default="", max_length=255)
    email: str | None = Field(default=None, max_length=254)
    admin: bool = False


@router.get("/user", response_model=UserOut)
async def current_user(session: SessionDep, caller: CallerDep) -> UserOut:
    return UserOut.of(await users.get_user(session, caller.id))


@router.get("/users", response_model=list[UserOut])
async def list_users(
    request: Request, response: Response, session: SessionDep, _admin: AdminDep, page: PageDep
) -> list[UserOut]:
    rows, total = await users.list_users(session, page.offset, page.page_size)
    page.headers(request, response, total)
    return [UserOut.of(user) for user in rows]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserIn, session: SessionDep, caller: AdminDep) -> UserOut:
    user = await users.create_user(
        session,
        body.username,
        body.password,
        name=body.name,
        email=body.email,
        admin=body.admin,
        actor=caller,
    )
    return UserOut.of(user)
