"""The commands that act on a server's state: serve, db, user, token, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.errors import BlockpostError
from blockpost.security import new_password
from blockpost.services import auth, users
from blockpost.services.principal import Principal


def _settings(args: argparse.Namespace) -> Settings:
    keys = (
        "data_dir",
        "database_url",
        "host",
        "port",
        "admin_password",
        "migrate_on_start",
        "agents",
        "workers",
        "tls_cert",
        "tls_key",
    )
    overrides: dict[str, Any] = {
        key: getattr(args, key) for key in keys if getattr(args, key, None) is not None
    }
    return Settings(**overrides)


def _progress(line: str) -> None:
    print(f"blockpost: {line}", file=sys.stderr, flush=True)


class _MigrationSteps(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = message.splitlines()[0], ()  # the step, not its essay
        return message.startswith("Running ")


def _show_migration_steps() -> None:
    """Alembic logs each step it runs (`Running upgrade 0013 -> 0014, …`): one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("blockpost: %(message)s"))
    handler.addFilter(_MigrationSteps())
    steps = logging.getLogger("alembic.runtime.migration")
    steps.addHandler(handler)
    steps.setLevel(logging.INFO)


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _check_server_exists(settings: Settings) -> None:
    """Commands that act on a server's data never create a database: connecting to a SQLite
    file that is not there would make an empty one (in the cwd, with the default data dir)."""
    url = settings.effective_database_url
    if make_url(url).get_backend_name() != "sqlite":
        return
    database = make_url(url).database
    if database and not Path(database).is_file():
        default = "" if settings.database_url else f" in the data dir {settings.data_dir.resolve()}"
        raise BlockpostError(
            f"no blockpost database at {database}{default}: run this where `blockpost serve` "
            "runs, or give --data-dir (BLOCKPOST_DATA_DIR) and --database-url as the server "
            "has them (its start banner prints both)"
        )


async def _check_migrated(db: Database) -> None:
    if await migrate.current_revision(db) is None:
        raise BlockpostError(
            f"the database {_shown_url(db.url)} is empty: no blockpost server has used it "
            "(start `blockpost serve` first, or check --database-url)"
        )


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[str]]) -> str:
    _check_server_exists(settings)

    async def run() -> str:
        db = Database(settings.effective_database_url)
        try:
            await _check_migrated(db)
            await migrate.upgrade(db)
            async with db.session() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


async def _user_named(session: AsyncSession, name: str) -> Any:
    user = await users.find_user(session, name)
    if user is None:
        raise BlockpostError(f"no user named {name!r}")
    return user


def _run(args: argparse.Namespace, settings: Settings) -> str:
    if args.command == "serve":
        from blockpost.serve import serve

        serve(settings)
        return ""
    if args.command == "db":
        return _db(args, settings)
    if args.command == "backup":
        from blockpost.backup import create_backup

        _check_server_exists(settings)
        return create_backup(settings, args.file, with_store=args.with_artifacts, say=_progress)
    if args.command == "restore":
        from blockpost.backup import restore_backup

        return restore_backup(settings, args.file, say=_progress)
    if args.command == "user" and args.user == "create":
        password = args.password or new_password()

        async def create(session: AsyncSession) -> str:
            user = await users.create_user(
                session, args.name, password, email=args.email, admin=args.admin, actor=None
            )
            shown = "" if args.password else f" with password {password}"
            return f"created {'admin ' if user.admin else ''}user {user.username}{shown}"

        return _with_session(settings, create)
    if args.command == "user" and args.user == "password":
        password = args.password or getpass.getpass(f"new password for {args.name}: ")

        async def change(session: AsyncSession) -> str:
            user = await _user_named(session, args.name)
            await users.set_password(session, user, password, actor=None)
            return f"password of {args.name} changed"

        return _with_session(settings, change)

    async def token(session: AsyncSession) -> str:
        owner = Principal.of(await _user_named(session, args.name))
        secret, _ = await auth.create_token(session, owner, actor=None)
        return secret

    return _with_session(settings, token)


def _db(args: argparse.Namespace, settings: Settings) -> str:
    if args.db != "upgrade":  # only an upgrade may make a database where there was none
        _check_server_exists(settings)

    async def run() -> str:
        db = Database(settings.effective_database_url)
        try:
            if args.db == "upgrade":
                await migrate.upgrade(db, args.revision)
            elif args.db == "downgrade":
                await migrate.downgrade(db, args.revision)
            return f"schema revision: {await migrate.current_revision(db) or 'empty'}"
        finally:
            await db.dispose()

    return asyncio.run(run())


SECRET_SETTINGS = frozenset({"admin_password", "secret_key", "artifact_s3_secret_access_key"})


def _setting_problem(err: Any) -> str:
    """`setting port (BLOCKPOST_PORT): Input should be ... (got 70000)`; the value once, a
    database URL without its password, a secret setting not at all."""
    field = ".".join(str(p) for p in err["loc"])
    if not field:
        return f"settings: {err['msg']}"
    given = err.get("input")
    if field in SECRET_SETTINGS or not isinstance(given, str | int | float):
        shown = ""
    elif field == "database_url":
        try:
            shown = f" (got {_shown_url(str(given))!r})"
        except ArgumentError:
            shown = " (got a value that is not a URL)"
    else:
        shown = f" (got {given!r})"
    return f"setting {field} (BLOCKPOST_{field.upper()}): {err['msg']}{shown}"


def run_admin_command(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ValidationError as exc:
        for err in exc.errors():
            print(f"blockpost: {_setting_problem(err)}", file=sys.stderr)
        return 2
    # Only the commands that may start a server's state create the data dir; the others
    # act on an existing one (or, restore, on an empty one) and say which they looked at.
    if args.command == "serve" or (args.command == "db" and args.db == "upgrade"):
        try:
            settings.prepare_data_dir()
        except OSError as exc:
            print(f"blockpost: cannot use data dir {settings.data_dir}: {exc}", file=sys.stderr)
            return 1
    if args.command in ("db", "restore"):
        _show_migration_steps()
    try:
        output = _run(args, settings)
    except BlockpostError as exc:
        print(f"blockpost: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, DBAPIError) as exc:
        # Raised before the server serves anything: the database is unreachable or refuses.
        reason = getattr(exc, "orig", None) or exc
        where = _shown_url(settings.effective_database_url)
        print(f"blockpost: cannot use the database {where}: {reason}", file=sys.stderr)
        return 1
    if output:
        print(output)
    return 0
