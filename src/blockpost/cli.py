"""Command line: `blockpost serve | agent | db … | user … | token create | backup | restore |
validate FILE…`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from blockpost import __version__
from blockpost.agent.sandbox import SandboxMode


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
        "--workers",
        type=int,
        help="HTTP worker processes, PostgreSQL only (BLOCKPOST_WORKERS, default 1)",
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Each command's module is imported only when it runs: an agent or `validate` process
    # would otherwise pay for the server's imports (the database, the web framework).
    if args.command == "validate":
        from blockpost.commands.validate import validate

        return validate(args.files)
    if args.command == "agent":
        from blockpost.commands.agent import run_agent_command

        return run_agent_command(args)
    from blockpost.commands.admin import run_admin_command

    return run_admin_command(args)
