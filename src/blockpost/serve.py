"""`blockpost serve`: prepare the data dir, migrate, make sure admin exists, run uvicorn."""

from __future__ import annotations

import asyncio

import uvicorn

from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.services.users import ADMIN_USERNAME, ensure_admin


async def _prepare(settings: Settings) -> str | None:
    db = Database(settings.effective_database_url)
    try:
        if settings.migrate_on_start:
            await migrate.upgrade(db)
        async with db.session() as session:
            return await ensure_admin(session, settings.admin_password)
    finally:
        await db.dispose()


def banner(settings: Settings, new_admin_password: str | None) -> str:
    url = f"http://{settings.host}:{settings.port}"
    if new_admin_password is not None:
        login = f"{ADMIN_USERNAME} / {new_admin_password}   (created now; shown only this once)"
    else:
        login = f"{ADMIN_USERNAME} (password set on first start; `blockpost user password admin`)"
    return "\n".join(
        [
            "blockpost is starting",
            f"  URL:       {url}   (API {url}/api/v1alpha, docs {url}/swagger)",
            f"  login:     {login}",
            f"  data dir:  {settings.data_dir.resolve()}",
            f"  database:  {_redacted(settings.effective_database_url)}",
        ]
    )


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"


def serve(settings: Settings) -> None:
    settings.prepare_data_dir()
    new_password = asyncio.run(_prepare(settings))
    print(banner(settings, new_password), flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        proxy_headers=False,
    )
