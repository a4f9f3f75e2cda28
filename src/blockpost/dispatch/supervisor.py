"""Keeps the embedded agents running: start them, restart one that dies (its job fails at
once, not a lease later), and disconnect them all when the server stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from blockpost.agent.sandbox import AGENT_TOKEN_VARIABLE, SandboxMode
from blockpost.background import LoopService
from blockpost.db.engine import Database
from blockpost.dispatch import registry
from blockpost.dispatch.embedded import EMBEDDED_AGENT_TYPE
from blockpost.dispatch.wakeup import Wakeups

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 30.0
STABLE_AFTER = 60.0  # an agent that ran this long restarts at once again if it dies
STOP_TIMEOUT = 15.0
# The only variables of the server's an agent gets: nothing secret (the server's own
# environment may hold the admin password or the database URL).
AGENT_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "HOME")


@dataclass(frozen=True)
class EmbeddedAgentsConfig:
    url: str
    token: str
    names: tuple[str, ...]
    jobs_dir: Path
    sandbox: SandboxMode
    job_user: str  # "" when jobs run as the server's own user
    hide: tuple[Path, ...]
    local_repositories: bool
    ca_file: Path | None = None  # the server's certificate, when it serves https
    server_name: str | None = None  # a name that certificate is for, when not 127.0.0.1


class Supervisor(LoopService):
    name = "embedded-agents"

    def __init__(self, config: EmbeddedAgentsConfig, db: Database, wakeups: Wakeups) -> None:
        super().__init__()
        self.config = config
        self.db = db
        self.wakeups = wakeups
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.stopping = False

    def command(self, name: str) -> list[str]:
        config = self.config
        # -P: the working directory never shadows a module (a stray yaml.py).
        command = [sys.executable, "-P", "-m", "blockpost", "agent", "--url", config.url]
        command += ["--name", name, "--jobs-dir", str(config.jobs_dir)]
        command += ["--sandbox", config.sandbox.value]
        if config.job_user:
            command += ["--job-user", config.job_user]
        for path in config.hide:
            command += ["--hide", str(path)]
        if config.local_repositories:
            command.append("--local-repositories")
        if config.ca_file:
            command += ["--ca-file", str(config.ca_file)]
        if config.server_name:
            command += ["--tls-server-name", config.server_name]
        return command

    def environment(self) -> dict[str, str]:
        env = {key: os.environ[key] for key in AGENT_ENV if key in os.environ}
        env[AGENT_TOKEN_VARIABLE] = self.config.token
        return env

    async def _loop(self) -> None:
        await self._remove(self.config.names, "the server restarted while the job ran")
        await asyncio.gather(*(self._keep(name) for name in self.config.names))

    async def _keep(self, name: str) -> None:
        delay = RESTART_DELAY
        while not self.stopping:
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *self.command(name), env=self.environment(), cwd=self.config.jobs_dir
            )
            self.processes[name] = process
            code = await process.wait()
            if self.stopping:
                return
            await self._remove((name,), f"agent {name} died (exit code {code})")
            if time.monotonic() - started >= STABLE_AFTER:
                delay = RESTART_DELAY
            log.warning("embedded agent %s exited (%s); restarting in %.0f s", name, code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_DELAY_MAX)

    async def _remove(self, names: tuple[str, ...], reason: str) -> None:
        try:
            async with self.db.session() as session:
                await registry.remove_named(
                    session, self.wakeups, EMBEDDED_AGENT_TYPE, names, reason
                )
        except Exception:
            log.exception("could not remove embedded agents %s", ", ".join(names))

    def interrupt(self) -> None:
        """SIGTERM to every agent: they stop their jobs and say goodbye while the server
        still answers (called the moment the server is told to stop)."""
        self.stopping = True
        for process in self.processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()

    async def stop(self) -> None:
        self.interrupt()
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        await super().stop()
        # Whatever they could not say themselves: the next start must find their names free.
        await self._remove(self.config.names, "the server stopped while the job ran")
