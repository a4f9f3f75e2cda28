"""Load agents for benchmarks: they register and sync over the real agent protocol, fetch
each job's payload as the real agent does, and report it passed without running a shell,
so what is measured is the server.

As a program it runs a fleet (and optionally job submitters) for a while in its own
process and prints what it did as JSON:

    python bench/fake_agents.py --url http://127.0.0.1:8000 --registration-token T \
        --agents 50 --seconds 10 [--submit-token API_TOKEN --project-id P] [--server-pid PID]

With --server-pid (repeatable) it also reports the CPU time those processes used while it
measured, per job done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from common import cpu_seconds

AGENT_API = "/api/v1/self_hosted_agents"
AGENT_TYPE = "s1-bench"


class Connection:
    """One keep-alive HTTP/1.1 connection speaking JSON: a few microseconds per request
    where an httpx client costs a few hundred, so the load generator stays small."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, token: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else b""
        message = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        reused = self.writer is not None
        status_line = await self._send(message)
        if not status_line and reused:
            # The server closed the idle keep-alive connection: send again on a new one.
            self.close()
            status_line = await self._send(message)
        if not status_line:
            raise ConnectionError(f"{method} {path}: the server closed the connection")
        assert self.reader is not None
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        raw = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, json.loads(raw) if raw else None

    async def _send(self, message: bytes) -> bytes:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(message)
        try:
            return await self.reader.readline()
        except ConnectionResetError:
            return b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class FakeAgent:
    """Registers and syncs like a real agent; reports jobs done without running them."""

    def __init__(self, url: str, registration_token: str, name: str) -> None:
        self.connection = Connection(url)
        self.registration_token = registration_token
        self.name = name
        self.token = ""

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = await self.connection.request(method, path, self.token, body)
        if status >= 400:
            raise RuntimeError(f"{method} {path} answered {status}: {answer}")
        return answer

    async def register(self) -> None:
        self.token = self.registration_token
        self.token = (await self._call("POST", f"{AGENT_API}/register", {"name": self.name}))[
            "token"
        ]

    async def sync(self, state: str, job_id: str = "", result: str = "") -> dict[str, Any]:
        body = {"state": state, "job_id": job_id, "job_result": result}
        answer: dict[str, Any] = await self._call("POST", f"{AGENT_API}/sync", body)
        return answer

    async def job(self, job_id: str) -> dict[str, Any]:
        """The job's payload: commands, env, files and where to push its log."""
        payload: dict[str, Any] = await self._call("GET", f"{AGENT_API}/jobs/{job_id}")
        return payload

    async def run_job(self, job_id: str) -> None:
        """What the real agent does with a job, minus running it: fetch the payload, report."""
        await self.job(job_id)
        await self.sync("finished-job", job_id, "passed")

    async def work(
        self,
        on_job: Callable[[str], None] | None = None,
        on_done: Callable[[str], None] | None = None,
    ) -> None:
        """Waits for jobs and runs them until cancelled or told to shut down; `on_job` hears
        of each job as it is given, `on_done` once it is reported."""
        while True:
            answer = await self.sync("waiting-for-jobs")
            if answer["action"] == "run-job":
                if on_job is not None:
                    on_job(answer["job_id"])
                await self.run_job(answer["job_id"])
                if on_done is not None:
                    on_done(answer["job_id"])
            elif answer["action"] == "shutdown":
                return

    async def disconnect(self) -> None:
        self.connection.close()  # it may be in the middle of a cancelled sync
        await self._call("POST", f"{AGENT_API}/disconnect")
        self.connection.close()


def job_body(project_id: str, name: str = "bench") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "project_id": project_id,
            "agent": {"machine": {"type": AGENT_TYPE}},
            "commands": ["true"],
        },
    }


@dataclass
class FleetStats:
    done: int = 0
    posted: int = 0
    done_at: list[float] = field(default_factory=list)

    def job_done(self, _job_id: str) -> None:
        self.done += 1
        self.done_at.append(time.monotonic())


async def register_all(agents: list[FakeAgent]) -> None:
    for start in range(0, len(agents), 50):
        await asyncio.gather(*(agent.register() for agent in agents[start : start + 50]))


async def stop_fleet(tasks: list[asyncio.Task[Any]], agents: list[FakeAgent]) -> None:
    """Cancels the agents' tasks and disconnects the agents."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(agent.disconnect() for agent in agents), return_exceptions=True)


async def submit(
    urls: list[str], token: str, project_id: str, stats: FleetStats, backlog: int, workers: int
) -> None:
    """Keeps about `backlog` jobs queued, posting through `workers` connections spread
    over the given servers."""

    async def poster(url: str) -> None:
        connection = Connection(url)
        while True:
            if stats.posted - stats.done >= backlog:
                await asyncio.sleep(0.002)
                continue
            stats.posted += 1
            status, answer = await connection.request(
                "POST", "/api/v1alpha/jobs", token, job_body(project_id, f"load-{stats.posted}")
            )
            if status != 200:
                raise RuntimeError(f"POST /api/v1alpha/jobs answered {status}: {answer}")

    await asyncio.gather(*(poster(urls[n % len(urls)]) for n in range(workers)))


async def run_fleet(args: argparse.Namespace) -> dict[str, Any]:
    urls: list[str] = args.url
    agents = [
        FakeAgent(urls[n % len(urls)], args.registration_token, f"load-{n}")
        for n in range(args.agents)
    ]
    await register_all(agents)
    stats = FleetStats()
    tasks = [asyncio.create_task(agent.work(stats.job_done)) for agent in agents]
    if args.submit_token:
        tasks.append(
            asyncio.create_task(
                submit(
                    urls,
                    args.submit_token,
                    args.project_id,
                    stats,
                    max(2 * args.agents, 20),
                    args.submitters,
                )
            )
        )
    pids: list[int] = args.server_pid
    await asyncio.sleep(args.warmup)
    done_before, started = stats.done, time.monotonic()
    cpu_before = [cpu_seconds(pid) for pid in pids]
    await asyncio.sleep(args.seconds)
    done, elapsed = stats.done - done_before, time.monotonic() - started
    cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
    failed = [task for task in tasks if task.done() and task.exception()]
    await stop_fleet(tasks, agents)
    if failed:
        raise RuntimeError(f"a load task failed: {failed[0].exception()!r}")
    return {
        "agents": args.agents,
        "jobs_done": done,
        "seconds": elapsed,
        "jobs_per_second": done / elapsed,
        # per server process: CPU ms per job done (by all), and share of a core
        "server_cpu_ms_per_job": [1000 * used / max(1, done) for used in cpu],
        "server_cpu_percent": [100 * used / elapsed for used in cpu],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", action="append", required=True, help="a server (repeatable)")
    parser.add_argument("--registration-token", required=True)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--submit-token", default="", help="an API token: also post jobs")
    parser.add_argument("--project-id", default="")
    parser.add_argument("--submitters", type=int, default=8)
    parser.add_argument(
        "--server-pid", type=int, action="append", default=[], help="measure its CPU (repeatable)"
    )
    print(json.dumps(asyncio.run(run_fleet(parser.parse_args()))))


if __name__ == "__main__":
    main()
