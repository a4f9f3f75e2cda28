"""Command line: `blockpost serve | agent | db … | user … | token create | backup | restore |
validate FILE…`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import __version__
from blockpost.agent.sandbox import AGENT_TOKEN_VARIABLE, SandboxMode
from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.errors import BlockpostError
from blockpost.pipeline_yaml import validate_pipeline
from blockpost.security import new_password
from blockpost.services import auth, users
from blockpost.services.principal import Principal
from blockpost.tls import check_readable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blockpost", description=__doc__)
    parser.add_argument("--version", action="version", version=f"blockpost {__version__}")
    parser.add_argument("--data-dir", type=Path, help="state directory (BLOCKPOST_DATA_DIR)")
    parser.add_argument("--database-url", help="SQLAlchemy async URL (BLOCKPOST_DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="bind address (BLOCKPOST_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (BLOCKPOST_PORT, default 8000)")
    serve.add_argument("--admin-password", help="admin password on first start")
    serve.add_argument(
        "--agents", type=int, help="embedded agents to start (BLOCKPOST_AGENTS, default 1)"
    )
    serve.add_argument(
        "--no-migrate",
        dest="migrate_on_start",
        action="store_false",
        default=None,
        help="do not run migrations on start",
    )
    serve.add_argument(
        "--tls-cert", type=Path, help="serve HTTPS with this PEM certificate (BLOCKPOST_TLS_CERT)"
    )
    serve.add_argument(
        "--tls-key", type=Path, help="the certificate's PEM private key (BLOCKPOST_TLS_KEY)"
    )

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    upgrade = db.add_parser("upgrade", help="migrate to the newest schema (or REVISION)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db.add_parser("downgrade", help="migrate back to REVISION ('base' empties)")
    downgrade.add_argument("revision")
    db.add_parser("current", help="print the schema revision")

    user = commands.add_parser("user", help="users").add_subparsers(dest="user", required=True)
    create = user.add_parser("create", help="create a user; prints a password if none given")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true")
    create.add_argument("--password")
    create.add_argument("--email")
    password = user.add_parser("password", help="set a user's password (asks, or --password)")
    password.add_argument("name")
    password.add_argument("--password")

    token = commands.add_parser("token", help="API tokens").add_subparsers(
        dest="token", required=True
    )
    token_create = token.add_parser("create", help="create an API token for USER and print it")
    token_create.add_argument("name")

    agent = commands.add_parser("agent", help="run a self-hosted agent against a server")
    agent.add_argument("--url", required=True, help="server URL, e.g. http://127.0.0.1:8000")
    agent.add_argument(
        "--token-file",
        type=Path,
        help="file holding the agent type's registration token (or BLOCKPOST_AGENT_TOKEN)",
    )
    agent.add_argument(
        "--token", help="the registration token itself (visible to every local user in ps)"
    )
    agent.add_argument("--name", default="", help="agent name (random by default)")
    agent.add_argument("--disconnect-after-job", action="store_true")
    agent.add_argument("--disconnect-after-idle-timeout", type=int, default=0, metavar="SECONDS")
    agent.add_argument(
        "--jobs-dir",
        "--workdir",
        type=Path,
        help="where each job gets its own directory (default: TMPDIR/blockpost-jobs)",
    )
    agent.add_argument(
        "--sandbox",
        choices=[mode.value for mode in SandboxMode],
        default=SandboxMode.NONE.value,
        help="run each job in a bubblewrap sandbox (auto: when bwrap works here)",
    )
    agent.add_argument(
        "--job-user", default="", help="when the agent runs as root, run jobs as this user"
    )
    agent.add_argument(
        "--hide",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a path sandboxed jobs never see (repeat for more)",
    )
    agent.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="an environment variable of the agent's that jobs get too (repeat for more)",
    )
    agent.add_argument(
        "--local-repositories",
        action="store_true",
        help="let a sandboxed job read its repository when that is a path on this machine",
    )
    agent.add_argument(
        "--ca-file",
        type=Path,
        help="for an https server: trust only the certificates in this PEM file (the "
        "server's self-signed certificate or its CA)",
    )
    agent.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="check the server's certificate for NAME instead of the --url host",
    )

    backup = commands.add_parser(
        "backup", help="write the server's state to FILE (tar.gz) while it runs"
    )
    backup.add_argument("file", type=Path, metavar="FILE")
    backup.add_argument(
        "--with-artifacts",
        action="store_true",
        help="add the local artifact store (and the cache) to the archive",
    )
    restore = commands.add_parser(
        "restore", help="unpack a backup onto an empty data dir and database, then migrate"
    )
    restore.add_argument("file", type=Path, metavar="FILE")

    validate = commands.add_parser(
        "validate", help="check pipeline YAML files (no server or database needed)"
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    keys = (
        "data_dir",
        "database_url",
        "host",
        "port",
        "admin_password",
        "migrate_on_start",
        "agents",
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


def _validate(files: list[Path]) -> int:
    """Prints `FILE:LINE: PATH: message` for each error; 0 when every file is valid."""
    failed = False
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{file}:1: #: cannot read the file: {exc}")
            failed = True
            continue

        def read_beside(name: str, folder: Path = file.parent) -> str:
            return (folder / name).read_text(encoding="utf-8")

        errors = validate_pipeline(text, read_file=read_beside)
        for error in errors:
            print(f"{file}:{error.line or 1}: {error.path}: {error.message}")
        if errors:
            failed = True
        else:
            print(f"{file}: valid")
    return 1 if failed else 0


def _agent_token(args: argparse.Namespace) -> str:
    """From --token, --token-file or BLOCKPOST_AGENT_TOKEN, which jobs never inherit."""
    from_env = os.environ.pop(AGENT_TOKEN_VARIABLE, "")
    if args.token:
        return str(args.token)
    if args.token_file:
        return str(args.token_file.read_text().strip())
    return from_env


def _agent(args: argparse.Namespace) -> int:
    from blockpost.agent.main import AgentOptions, run_agent
    from blockpost.agent.sandbox import SandboxUnavailable, check_jobs_dir, isolation_for

    try:
        token = _agent_token(args)
    except OSError as exc:
        print(f"blockpost agent: cannot read --token-file: {exc}", file=sys.stderr)
        return 2
    if not token:
        print(
            f"blockpost agent: no registration token: give --token-file FILE or set "
            f"{AGENT_TOKEN_VARIABLE}",
            file=sys.stderr,
        )
        return 2
    options = AgentOptions(
        url=args.url,
        token=token,
        name=args.name,
        disconnect_after_job=args.disconnect_after_job,
        idle_timeout=args.disconnect_after_idle_timeout,
        pass_env=tuple(name for name in args.pass_env if name != AGENT_TOKEN_VARIABLE),
        local_repositories=args.local_repositories,
        server_name=args.tls_server_name,
    )
    if args.ca_file:
        try:
            options.ca_file = check_readable(args.ca_file)
        except ValueError as exc:
            print(f"blockpost agent: --ca-file {args.ca_file}: {exc}", file=sys.stderr)
            return 2
    if args.jobs_dir:
        options.jobs_dir = args.jobs_dir
    try:
        options.isolation, described = isolation_for(
            SandboxMode(args.sandbox), args.job_user, (*args.hide, options.jobs_dir)
        )
        check_jobs_dir(options.jobs_dir, options.isolation)
    except (SandboxUnavailable, OSError) as exc:
        print(f"blockpost agent: {exc}", file=sys.stderr)
        return 2
    return run_agent(options, described)


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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "validate":
        return _validate(args.files)
    if args.command == "agent":
        return _agent(args)
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
