"""Credentials: password login, browser sessions and API tokens, all resolved to a Principal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import events_log
from blockpost.db.models import ApiToken, User, WebSession
from blockpost.errors import NotAuthenticated, NotFound
from blockpost.security import new_token, token_hash, verify_password
from blockpost.services import audit
from blockpost.services.login_limit import LoginLimiter
from blockpost.services.principal import Principal
from blockpost.services.users import find_user, find_user_any_case
from blockpost.timefmt import utcnow

PUBLIC_ID_LEN = 16


async def attempt_key(session: AsyncSession, login_name: str) -> str:
    """What a login attempt is counted against (services/login_limit.py): the user it names,
    by username or email in any case, so that every spelling shares one count; a name that
    is no user's is counted by itself."""
    user = await find_user_any_case(session, login_name)
    return user_key(user) if user else f"login:{login_name.lower()}"


def user_key(user: User) -> str:
    return f"user:{user.id}"


async def login(session: AsyncSession, login_name: str, password: str) -> User:
    user = await find_user(session, login_name)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise NotAuthenticated("wrong login or password")
    return user


async def password_login(
    session: AsyncSession,
    limiter: LoginLimiter,
    login_name: str,
    password: str,
    address: str,
    ttl_seconds: int,
) -> str:
    """Checks the password within the attempt limit and starts a browser session; returns
    the session's secret. Raises TooManyAttempts or NotAuthenticated."""
    keys = (await attempt_key(session, login_name), f"ip:{address}")
    limiter.check(*keys)
    try:
        user = await login(session, login_name, password)
    except NotAuthenticated:
        limiter.failed(*keys)
        events_log.emit("login.failed", login=login_name, address=address)
        raise
    limiter.succeeded(user_key(user))
    events_log.emit("login.succeeded", user=user.username, address=address)
    return await start_web_session(session, user, ttl_seconds)


async def start_web_session(session: AsyncSession, user: User, ttl_seconds: int) -> str:
    secret = new_token()
    now = utcnow()
    # Expired sessions of this user are swept here rather than by a background job.
    await session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at < now)
    )
    session.add(
        WebSession(
            session_hash=token_hash(secret),
            user_id=user.id,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    await session.flush()
    return secret


async def end_web_session(session: AsyncSession, secret: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.session_hash == token_hash(secret)))


async def principal_for_session(session: AsyncSession, secret: str) -> Principal:
    user = await session.scalar(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.session_hash == token_hash(secret), WebSession.expires_at > utcnow())
    )
    if user is None:
        raise NotAuthenticated("session expired or unknown; log in again")
    return Principal.of(user)


async def principal_for_token(session: AsyncSession, token: str) -> Principal:
    row = (
        await session.execute(
            select(User, ApiToken.expired_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        raise NotAuthenticated("unknown API token")
    user, expired_at = row
    if expired_at is not None:
        raise NotAuthenticated("API token has expired")
    return Principal.of(user)


async def create_token(
    session: AsyncSession, owner: Principal, *, actor: Principal | None
) -> tuple[str, ApiToken]:
    secret = new_token()
    digest = token_hash(secret)
    token = ApiToken(token_hash=digest, public_id=digest[:PUBLIC_ID_LEN], user_id=owner.id)
    session.add(token)
    await session.flush()
    await audit.record(session, actor, "created", _resource(token, owner))
    events_log.emit_after_commit(
        session,
        "token.created",
        user=owner.username,
        token=token.public_id,
        by=actor.username if actor else "command line",
    )
    return secret, token


def _resource(token: ApiToken, owner: Principal) -> audit.Resource:
    """A token is named by its public id and its owner; the secret is never logged."""
    return audit.Resource("token", token.public_id, owner.username)


async def list_tokens(session: AsyncSession, caller: Principal) -> Sequence[ApiToken]:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == caller.id).order_by(ApiToken.id)
    )
    return rows.all()


async def expire_token(session: AsyncSession, caller: Principal, token_id: str) -> None:
    """`token_id` is the token itself (as Semaphore's curl example sends) or its public id."""
    key = (
        ApiToken.public_id == token_id
        if len(token_id) == PUBLIC_ID_LEN
        else ApiToken.token_hash == token_hash(token_id)
    )
    token = await session.scalar(select(ApiToken).where(key, ApiToken.user_id == caller.id))
    if token is None:
        raise NotFound("token not found")
    if token.expired_at is None:
        token.expired_at = utcnow()
        await session.flush()
        await audit.record(session, caller, "expired", _resource(token, caller))
        events_log.emit_after_commit(
            session, "token.expired", user=caller.username, token=token.public_id
        )
