"""`blockpost serve`: prepare the data dir, migrate, make sure admin exists, run uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database
from blockpost.db.models import AgentType
from blockpost.dispatch import agent_types
from blockpost.logformat import log_config
from blockpost.services.users import ADMIN_USERNAME, ensure_admin

LOCAL_AGENT_TYPE = "s1-local"
LOCAL_TOKEN_FILE = "local-agent.token"
# Held syncs and log tails would otherwise keep a stopping server waiting for their hold.
SHUTDOWN_GRACE_SECONDS = 3


async def _local_agent_token(session: AsyncSession, data_dir: Path) -> str:
    """The registration token of s1-local, kept in the data dir (0600) for the embedded agents."""
    token_file = data_dir / LOCAL_TOKEN_FILE
    exists = await session.scalar(select(AgentType.id).where(AgentType.name == LOCAL_AGENT_TYPE))
    if exists is not None and token_file.exists():
        return token_file.read_text().strip()
    view = await (
        agent_types.reset_token(session, LOCAL_AGENT_TYPE)
        if exists is not None
        else agent_types.create(session, LOCAL_AGENT_TYPE)
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


def _start_agents(settings: Settings, token: str) -> list[subprocess.Popen[bytes]]:
    """Embedded agents: ordinary `blockpost agent` processes on loopback (they retry until
    the server listens), so a job's commands can never take the server down with them."""
    url = f"http://127.0.0.1:{settings.port}"
    agents = []
    for number in range(1, settings.agents + 1):
        workdir = (settings.data_dir / "agents" / str(number)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "blockpost",
            "agent",
            "--url",
            url,
            "--token",
            token,
            "--name",
            f"local-{socket.gethostname()}-{number}"[:80],
            "--workdir",
            str(workdir),
        ]
        agents.append(subprocess.Popen(command))
    return agents


def _stop_agents(agents: list[subprocess.Popen[bytes]]) -> None:
    for agent in agents:
        agent.terminate()
    for agent in agents:
        try:
            agent.wait(timeout=15)
        except subprocess.TimeoutExpired:
            agent.kill()


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
            f"  agents:    {settings.agents} embedded, type {LOCAL_AGENT_TYPE} (--agents 0: none)",
        ]
    )


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


def serve(settings: Settings) -> None:
    settings.prepare_data_dir()
    new_password, local_token = asyncio.run(_prepare(settings))
    print(banner(settings, new_password), flush=True)
    # uvicorn re-raises the SIGTERM it caught once it has shut down. With this handler in
    # place (uvicorn restores it) that becomes a normal exit, so `finally` stops the agents.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    agents = _start_agents(settings, local_token) if local_token else []
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        proxy_headers=False,
        access_log=settings.access_log,
        log_config=log_config(settings.log_format),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    try:
        _Server(config, app.state.wakeups.close).run()
    finally:
        _stop_agents(agents)
