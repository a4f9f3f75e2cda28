"""`blockpost serve`: prepare the data dir, migrate, make sure admin exists, run uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.agent.sandbox import (
    SandboxMode,
    SandboxUnavailable,
    check_jobs_dir,
    isolation_for,
)
from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.db.models import AgentType
from blockpost.dispatch import agent_types
from blockpost.dispatch.embedded import EMBEDDED_AGENT_TYPE, EmbeddedUsers
from blockpost.dispatch.supervisor import EmbeddedAgentsConfig, Supervisor
from blockpost.errors import BlockpostError
from blockpost.logformat import log_config
from blockpost.services.users import ADMIN_USERNAME, ensure_admin
from blockpost.tls import local_server_name

log = logging.getLogger("blockpost.serve")
LOCAL_TOKEN_FILE = "local-agent.token"
# Held syncs and log tails would otherwise keep a stopping server waiting for their hold.
SHUTDOWN_GRACE_SECONDS = 3
PR_SET_PDEATHSIG = 1  # prctl(2)


async def _local_agent_token(session: AsyncSession, data_dir: Path) -> str:
    """The registration token of s1-local, kept in the data dir (0600) for the embedded agents."""
    token_file = data_dir / LOCAL_TOKEN_FILE
    exists = await session.scalar(select(AgentType.id).where(AgentType.name == EMBEDDED_AGENT_TYPE))
    if exists is not None and token_file.exists():
        return token_file.read_text().strip()
    view = await (
        agent_types.reset_token(session, EMBEDDED_AGENT_TYPE)
        if exists is not None
        else agent_types.create(session, EMBEDDED_AGENT_TYPE)
    )
    assert view.registration_token is not None
    token_file.touch(mode=0o600)
    token_file.write_text(view.registration_token)
    return view.registration_token


async def _prepare(settings: Settings) -> tuple[str | None, str | None]:
    db = Database(settings.effective_database_url)
    try:
        if settings.migrate_on_start:
            await migrate.upgrade(db)
        async with db.session() as session:
            password = await ensure_admin(session, settings.admin_password)
            token = (
                await _local_agent_token(session, settings.data_dir) if settings.agents else None
            )
            return password, token
    finally:
        await db.dispose()


@dataclass(frozen=True)
class EmbeddedIsolation:
    sandbox: SandboxMode  # as resolved on this machine: bwrap or none
    job_user: str  # "" when jobs run as the server's own user
    line: str


def _isolation(settings: Settings) -> EmbeddedIsolation:
    """The embedded agents' isolation on this machine; also decides whose jobs they take
    when the operator did not say."""
    job_user = settings.job_user if os.geteuid() == 0 else ""
    try:
        isolation, line = isolation_for(settings.job_sandbox, job_user, ())
        check_jobs_dir(settings.effective_jobs_dir, isolation)
    except SandboxUnavailable as exc:
        raise BlockpostError(f"BLOCKPOST_JOB_SANDBOX={settings.job_sandbox}: {exc}") from None
    if settings.embedded_agent_users is None:
        settings.embedded_agent_users = (
            EmbeddedUsers.ALL if isolation.sandbox else EmbeddedUsers.ADMINS
        )
    mode = SandboxMode.BWRAP if isolation.sandbox else SandboxMode.NONE
    return EmbeddedIsolation(mode, job_user, line)


def _hidden(settings: Settings) -> tuple[Path, ...]:
    """What a sandboxed job must never see, even under a path it may read."""
    hidden = [settings.data_dir.resolve()]
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        hidden.append(Path(url.database).resolve().parent)
    return tuple(dict.fromkeys(hidden))


def _supervisor(
    settings: Settings, token: str, isolation: EmbeddedIsolation, app: FastAPI
) -> Supervisor:
    # The port too: two servers on one host (replicas of one database) must not take each
    # other's agents for their own stale registrations.
    # Agent names allow no dots: a host name like ci.example.com would be refused.
    host = re.sub(r"[^a-zA-Z0-9_-]", "-", socket.gethostname())
    names = tuple(
        f"local-{host}-{settings.port}-{number}"[:80] for number in range(1, settings.agents + 1)
    )
    config = EmbeddedAgentsConfig(
        url=f"{_scheme(settings)}://127.0.0.1:{settings.port}",
        token=token,
        names=names,
        jobs_dir=settings.effective_jobs_dir,
        sandbox=isolation.sandbox,
        job_user=isolation.job_user,
        hide=_hidden(settings),
        local_repositories=settings.allow_local_repositories,
        # Trust is pinned to the server's own certificate, whatever the system trusts.
        ca_file=settings.tls_cert.resolve() if settings.tls_cert else None,
        server_name=local_server_name(settings.tls_cert) if settings.tls_cert else None,
    )
    return Supervisor(config, app.state.db, app.state.wakeups)


def banner(
    settings: Settings, new_admin_password: str | None, isolation: EmbeddedIsolation | None
) -> str:
    url = f"{_scheme(settings)}://{settings.host}:{settings.port}"
    if new_admin_password is not None:
        login = f"{ADMIN_USERNAME} / {new_admin_password}   (created now; shown only this once)"
    else:
        login = f"{ADMIN_USERNAME} (password set on first start; `blockpost user password admin`)"
    return "\n".join(
        [
            "blockpost is starting",
            f"  URL:       {url}   (web UI {url}/, API {url}/api/v1alpha, docs {url}/swagger)",
            f"  login:     {login}",
            f"  data dir:  {settings.data_dir.resolve()}",
            f"  database:  {_redacted(settings.effective_database_url)}",
            f"  agents:    {settings.agents} embedded, type {EMBEDDED_AGENT_TYPE} "
            "(--agents 0: none)",
            *(
                [
                    f"  jobs:      {isolation.line}",
                    f"             in {settings.effective_jobs_dir}; embedded agents take "
                    f"jobs of {settings.embedded_agent_users} users",
                ]
                if isolation
                else []
            ),
        ]
    )


def _scheme(settings: Settings) -> str:
    return "https" if settings.tls_cert else "http"


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _exit_on_signal(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


class _Server(uvicorn.Server):
    """uvicorn, telling the app the moment a stop signal arrives: held agent syncs and log
    tails answer then, instead of keeping the shutdown waiting until they time out."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # no loop running: nothing is held
            asyncio.get_running_loop().call_soon_threadsafe(self._on_exit)
        super().handle_exit(sig, frame)


def uvicorn_config(settings: Settings, app: FastAPI) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        # The client address counts for login limits, and the scheme for Secure cookies:
        # taken from X-Forwarded-For/-Proto only when the connection comes from a proxy the
        # operator named.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        access_log=settings.access_log,
        log_config=log_config(settings.log_format),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )


def _check_workers(settings: Settings) -> None:
    backend = make_url(settings.effective_database_url).get_backend_name()
    if settings.workers > 1 and backend != "postgresql":
        raise BlockpostError(
            f"--workers {settings.workers} (BLOCKPOST_WORKERS) needs PostgreSQL: SQLite takes "
            "one writer at a time, so more processes would only wait for each other. "
            "Run one worker, or move to PostgreSQL (README, Deployment)."
        )


def _listening_socket(settings: Settings) -> socket.socket:
    """The one socket every worker accepts on; the kernel hands each connection to one."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    return sock


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive the server process that forked it (even a SIGKILLed one)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(0)


def _fork_worker(settings: Settings, sock: socket.socket) -> int:
    """A process serving HTTP on `sock` with no background loops and no embedded agents:
    those run in the first process alone, and wake-ups reach every worker through
    PostgreSQL's LISTEN. Forked before the first process opens connections or threads."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _die_with_parent(parent)
        app = create_app(settings, loops=False)
        _Server(uvicorn_config(settings, app), app.state.wakeups.close).run(sockets=[sock])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    except BaseException:
        log.exception("HTTP worker %d failed", os.getpid())
    finally:
        os._exit(code)


def _stop_workers(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS + 5
    waiting = set(pids)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            waiting.discard(pid)
        time.sleep(0.05)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def serve(settings: Settings) -> None:
    _check_workers(settings)
    settings.prepare_data_dir()
    isolation = _isolation(settings) if settings.agents else None
    new_password, local_token = asyncio.run(_prepare(settings))
    print(banner(settings, new_password, isolation), flush=True)
    if isolation is not None and isolation.sandbox is SandboxMode.NONE:
        log.warning(
            "no job sandbox: %s. Only administrators' jobs run on the embedded agents unless "
            "BLOCKPOST_EMBEDDED_AGENT_USERS says otherwise; see README, Security model.",
            isolation.line,
        )
    # uvicorn re-raises the SIGTERM it caught once it has shut down. With this handler in
    # place (uvicorn restores it) that becomes a normal exit.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    sock = _listening_socket(settings) if settings.workers > 1 else None
    workers = [_fork_worker(settings, sock) for _ in range(settings.workers - 1)] if sock else []
    app = create_app(settings)
    supervisor = None
    if local_token and isolation is not None:
        supervisor = _supervisor(settings, local_token, isolation, app)
        app.state.services.append(supervisor)

    def on_exit() -> None:
        app.state.wakeups.close()
        if supervisor is not None:
            supervisor.interrupt()

    try:
        _Server(uvicorn_config(settings, app), on_exit).run(sockets=[sock] if sock else None)
    finally:
        _stop_workers(workers)
