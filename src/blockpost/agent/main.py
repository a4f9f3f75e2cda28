"""The agent loop: register, sync, run what the server says, report, disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from blockpost import __version__
from blockpost.agent import containers
from blockpost.agent.logship import LogShipper
from blockpost.agent.runner import JobRunner
from blockpost.agent.sandbox import Isolation, local_repository
from blockpost.agent.workspace import Workspace, base_environment, default_jobs_dir
from blockpost.tls import client_context

log = logging.getLogger("blockpost.agent")
API = "/api/v1/self_hosted_agents"
REQUEST_TIMEOUT = 30.0  # as the official agent: held syncs are answered well before this
GIVE_UP_AFTER = 600.0  # no successful sync for this long: shut down
REGISTER_BACKOFF_MAX = 30.0
# Registration answers that no retry can change: a wrong token, a malformed request.
REGISTER_FATAL = {400, 401, 403, 422}


@dataclass
class AgentOptions:
    url: str
    token: str
    name: str = ""
    disconnect_after_job: bool = False
    idle_timeout: int = 0
    jobs_dir: Path = field(default_factory=default_jobs_dir)
    isolation: Isolation = field(default_factory=Isolation)
    pass_env: tuple[str, ...] = ()  # agent variables the operator lets every job see
    local_repositories: bool = False  # a sandboxed job may read its local repository
    ca_file: Path | None = None  # trust only these certificates for an https server
    server_name: str | None = None  # check the server's certificate for this name, not the URL's


class Agent:
    def __init__(self, options: AgentOptions) -> None:
        self.options = options
        self.client = httpx.AsyncClient(
            base_url=options.url.rstrip("/"),
            timeout=REQUEST_TIMEOUT,
            headers={"User-Agent": f"blockpost-agent/{__version__}"},
            verify=client_context(options.ca_file) if options.ca_file else True,
            event_hooks={"request": [self._name_the_server]} if options.server_name else None,
        )
        self.agent_token = ""
        self.state = "waiting-for-jobs"
        self.job_id = ""
        self.job_result = ""
        self.job_result_reason = ""
        self.interrupted_at = 0
        self.runner: JobRunner | None = None
        self.job_task: asyncio.Task[str] | None = None
        # Set when something the server must hear about happens (job end, SIGTERM).
        self.poked = asyncio.Event()
        self.stopping: asyncio.Task[None] | None = None

    async def _name_the_server(self, request: httpx.Request) -> None:
        # An embedded agent reaches its server at 127.0.0.1 with a certificate for its host name.
        request.extensions["sni_hostname"] = self.options.server_name

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.agent_token}"}

    async def register(self) -> bool:
        """True once registered; False when interrupted first."""
        engine = await containers.find_engine()
        if engine is None:
            log.info("container jobs: none (%s)", containers.REFUSAL)
        else:
            log.info("container jobs: run with %s", engine)
        body = {
            "name": self.options.name,
            "version": __version__,
            "pid": os.getpid(),
            "os": f"{platform.system()} {platform.release()}",
            "arch": platform.machine(),
            "hostname": socket.gethostname(),
            "single_job": self.options.disconnect_after_job,
            "idle_timeout": self.options.idle_timeout,
            "interruption_grace_period": 0,
            "job_id": "",
            # the server gives container jobs only to agents that can run them
            "containers": engine is not None,
        }
        # The server may be starting, restarting, or still holding this name for a moment:
        # retry with backoff; only answers no retry can change end the agent.
        deadline = time.monotonic() + GIVE_UP_AFTER
        delay = 0.5
        while time.monotonic() < deadline and not self.interrupted_at:
            try:
                response = await self.client.post(
                    f"{API}/register",
                    json=body,
                    headers={"Authorization": f"Token {self.options.token}"},
                )
            except httpx.HTTPError as exc:
                log.warning("register failed (%s); retrying in %.1f s", exc, delay)
            else:
                if response.status_code == 201:
                    self.agent_token = response.json()["token"]
                    log.info("registered as %s", response.json()["name"])
                    return True
                if response.status_code in REGISTER_FATAL:
                    raise SystemExit(
                        f"registration refused: {response.status_code} {response.text}"
                    )
                log.warning(
                    "register answered %s %s; retrying in %.1f s",
                    response.status_code,
                    response.text[:200],
                    delay,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.poked.wait(), delay)
            delay = min(delay * 2, REGISTER_BACKOFF_MAX)
        if self.interrupted_at:
            return False
        raise SystemExit("could not register with the server")

    async def _sync(self) -> dict[str, Any]:
        response = await self.client.post(
            f"{API}/sync",
            json={
                "state": self.state,
                "job_id": self.job_id,
                "job_result": self.job_result,
                "job_result_reason": self.job_result_reason,
                "interrupted_at": self.interrupted_at,
            },
            headers=self._auth(),
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    async def _sync_or_poke(self) -> dict[str, Any] | None:
        """A sync; news for the server (job end, SIGTERM) cuts a held sync short (None)."""
        self.poked.clear()
        if self.job_task is not None and self.job_task.done():
            return None
        sync = asyncio.create_task(self._sync())
        poke = asyncio.create_task(self.poked.wait())
        done, _ = await asyncio.wait({sync, poke}, return_when=asyncio.FIRST_COMPLETED)
        poke.cancel()
        if sync in done:
            return sync.result()
        sync.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await sync
        return None

    async def _refresh_log_token(self) -> str:
        response = await self.client.post(f"{API}/refresh", headers=self._auth())
        response.raise_for_status()
        return str(response.json()["token"])

    async def _start_job(self, job_id: str) -> None:
        self.state, self.job_id, self.job_result = "starting-job", job_id, ""
        self.job_result_reason = ""
        try:
            response = await self.client.get(f"{API}/jobs/{job_id}", headers=self._auth())
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.error("could not fetch job %s: %s", job_id, exc)
            self.state, self.job_result = "finished-job", "failed"
            return
        payload = response.json()
        logger = payload["logger"]
        shipper = LogShipper(self.client, logger["url"], logger["token"], self._refresh_log_token)
        shipper.start()
        isolation = self.options.isolation
        workspace = Workspace(self.options.jobs_dir, job_id, isolation.user)
        env = base_environment(workspace, isolation.user, self.options.pass_env)
        readable = local_repository(payload) if self.options.local_repositories else ()
        # Looked for again: an engine may have stopped since the agent registered.
        engine = await containers.find_engine() if containers.requested(payload) else None
        self.runner = JobRunner(payload, workspace, isolation, env, shipper, readable, engine)
        self.job_task = asyncio.create_task(self._run_job(self.runner, shipper))
        self.job_task.add_done_callback(lambda _task: self.poked.set())
        self.state = "running-job"
        log.info("running job %s (%s)", job_id, payload.get("job_name", ""))

    @staticmethod
    async def _run_job(runner: JobRunner, shipper: LogShipper) -> str:
        try:
            return await runner.run()
        finally:
            await shipper.close()

    def _collect_job(self) -> None:
        if self.job_task is not None and self.job_task.done():
            try:
                self.job_result = self.job_task.result()
                self.job_result_reason = self.runner.reason if self.runner else ""
            except Exception:
                log.exception("job %s crashed", self.job_id)
                self.job_result = "failed"
            self.state = "finished-job"
            self.job_task = None
            self.runner = None
            log.info("job %s finished: %s", self.job_id, self.job_result)

    async def _stop_job(self) -> None:
        if self.runner is not None and self.state == "running-job":
            self.state = "stopping-job"
            await self.runner.stop()

    def interrupt(self) -> None:
        if not self.interrupted_at:
            self.interrupted_at = int(time.time())
            log.info("interrupted: finishing up")
            if self.runner is not None:
                self.stopping = asyncio.create_task(self._stop_job())
            self.poked.set()

    async def run(self) -> int:
        if not await self.register():
            return 0
        last_ok = time.monotonic()
        try:
            while True:
                self._collect_job()
                try:
                    answer = await self._sync_or_poke()
                except httpx.HTTPError as exc:
                    if self.interrupted_at and self.job_task is None:
                        # Told to stop and nothing left to report to an unreachable server.
                        log.info("interrupted and the server is unreachable: exiting")
                        return 0
                    if time.monotonic() - last_ok > GIVE_UP_AFTER:
                        log.error("no successful sync for %d s: shutting down", GIVE_UP_AFTER)
                        return 1
                    status = getattr(getattr(exc, "response", None), "status_code", None)
                    if status == 404:
                        log.error("the server no longer knows this agent: shutting down")
                        return 1
                    log.warning("sync failed (%s); retrying", exc)
                    await asyncio.sleep(1)
                    continue
                if answer is None:
                    continue
                last_ok = time.monotonic()
                action = answer.get("action")
                if action == "run-job":
                    await self._start_job(answer["job_id"])
                    continue
                if action == "stop-job":
                    await self._stop_job()
                elif action == "wait-for-jobs":
                    self.state, self.job_id, self.job_result = "waiting-for-jobs", "", ""
                    self.job_result_reason = ""
                elif action == "shutdown":
                    log.info("shutting down: %s", answer.get("shutdown_reason", ""))
                    return 0
                delay = int(answer.get("next_sync_after") or 1000) / 1000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.poked.wait(), delay)
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await self.client.post(f"{API}/disconnect", headers=self._auth())
            await self.client.aclose()


def run_agent(options: AgentOptions, isolation_line: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent %(levelname)s %(message)s")
    # httpx logs every request at INFO: a line per sync and per log push.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if options.isolation.sandbox or options.isolation.user:
        log.info("%s", isolation_line)
    else:
        log.warning("%s", isolation_line)

    async def main() -> int:
        agent = Agent(options)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, agent.interrupt)
        return await agent.run()

    return asyncio.run(main())
