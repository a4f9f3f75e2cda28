"""Fixtures: one database per back end (migrated once, wiped after each test), app, clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI

from blockpost import security
from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.db.models import User
from blockpost.services import auth, users
from blockpost.services.principal import Principal
from tests.support.databases import fresh_database, wipe

BASE_DATABASE_URL = os.environ.get("BLOCKPOST_DATABASE_URL") or None
PASSWORD = "correct-horse-battery"
# Real argon2, with the parameters argon2-cffi gives for tests: every API test makes users,
# and at the production cost each one took 0.2 s (a fifth of the suite's time).
security.PASSWORD_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)

MakeUser = Callable[..., Awaitable[User]]
MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


def pytest_report_header() -> str:
    backend = "postgresql" if BASE_DATABASE_URL and "postgres" in BASE_DATABASE_URL else "sqlite"
    return f"blockpost database back end: {backend}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(BASE_DATABASE_URL, tmp_path_factory.mktemp("db"), "suite") as url:
        yield url


@pytest.fixture(scope="session")
async def migrated_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
async def db(migrated_db: Database) -> AsyncIterator[Database]:
    yield migrated_db
    await wipe(migrated_db)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        max_body_bytes=64 * 1024,
        sync_hold_seconds=1.0,
        log_max_bytes=200_000,
        allow_local_repositories=True,
    )


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.db.dispose()


def _client(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Token {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
    )


@pytest.fixture
async def anon(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as client:
        yield client


@pytest.fixture
def make_user(db: Database) -> MakeUser:
    async def make(username: str, *, admin: bool = False, email: str | None = None) -> User:
        async with db.session() as session:
            return await users.create_user(
                session, username, PASSWORD, email=email, admin=admin, actor=None
            )

    return make


@pytest.fixture
async def make_client(app: FastAPI, db: Database, make_user: MakeUser) -> AsyncIterator[MakeClient]:
    """`await make_client("bob")` -> a client authenticated as a new user bob."""
    opened: list[httpx.AsyncClient] = []

    async def make(username: str, *, admin: bool = False) -> httpx.AsyncClient:
        user = await make_user(username, admin=admin)
        async with db.session() as session:
            secret, _ = await auth.create_token(session, Principal.of(user), actor=None)
        client = _client(app, secret)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
async def admin(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client("admin", admin=True)


@pytest.fixture
async def alice(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client("alice")


@pytest.fixture
async def bob(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client("bob")
