"""Users: creation with validated names, lookup, password changes, the first admin."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import User
from blockpost.db.paging import fetch_page
from blockpost.errors import Conflict, InvalidInput, NotFound
from blockpost.security import hash_password, new_password
from blockpost.services import audit
from blockpost.services.principal import Principal

ADMIN_USERNAME = "admin"
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
PASSWORD_MIN, PASSWORD_MAX = 8, 1024


def check_password(password: str, field: str = "password") -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(field, f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    name: str = "",
    email: str | None = None,
    admin: bool = False,
    actor: Principal | None,
) -> User:
    """`actor`: who creates the user (None: the system, e.g. the CLI on the server's host)."""
    if not USERNAME_RE.fullmatch(username) or username.isdigit():
        # All-digit names are refused because paths accept a user id or a username.
        raise InvalidInput(
            "username",
            "must be 1-64 letters, digits, '.', '_' or '-', start with a letter or digit, "
            "and not be all digits",
        )
    if email is not None and (len(email) > 254 or not EMAIL_RE.match(email)):
        raise InvalidInput("email", "is not an email address")
    check_password(password)
    clash = or_(User.username == username, User.email == email) if email else None
    existing = await session.scalar(
        select(User).where(clash if clash is not None else User.username == username)
    )
    if existing is not None:
        field = "username" if existing.username == username else "email"
        raise Conflict(f"{field}: a user with this {field} already exists")
    user = User(
        username=username,
        name=name or username,
        email=email,
        password_hash=hash_password(password),
        admin=admin,
    )
    session.add(user)
    await session.flush()
    await audit.record(session, actor, "created", _resource(user), {"admin": admin})
    return user


def _resource(user: User) -> audit.Resource:
    return audit.Resource("user", user.uuid, user.username)


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


async def find_user(session: AsyncSession, login: str) -> User | None:
    """By username or email."""
    return await session.scalar(
        select(User).where(or_(User.username == login, User.email == login))
    )


async def find_user_any_case(session: AsyncSession, login: str) -> User | None:
    """As find_user; failing that, the first user whose username or email is `login` in
    another case."""
    if (user := await find_user(session, login)) is not None:
        return user
    lowered = login.lower()
    return await session.scalar(
        select(User)
        .where(or_(func.lower(User.username) == lowered, func.lower(User.email) == lowered))
        .order_by(User.id)
        .limit(1)
    )


async def list_users(session: AsyncSession, offset: int, limit: int) -> tuple[list[User], int]:
    """Every user (the API lets administrators only ask)."""
    return await fetch_page(session, select(User).order_by(User.id), offset, limit)


async def set_password(
    session: AsyncSession, user: User, password: str, *, actor: Principal | None
) -> None:
    check_password(password)
    user.password_hash = hash_password(password)
    await session.flush()
    await audit.record(session, actor, "password_set", _resource(user))


async def ensure_admin(session: AsyncSession, password: str | None) -> str | None:
    """Create `admin` on first start; returns the password only when it was just created."""
    if await session.scalar(select(User.id).where(User.username == ADMIN_USERNAME)) is not None:
        return None
    password = password or new_password()
    await create_user(
        session, ADMIN_USERNAME, password, name="Administrator", admin=True, actor=None
    )
    return password
