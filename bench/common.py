"""What the benchmarks share: a real server process, an admin API client, fake agents that
speak the real protocol (without running a shell), and the results table."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # one server launcher for tests and benchmarks

from tests.support.databases import fresh_database  # noqa: E402
from tests.support.gitrepo import GitRepo  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TICKS = os.sysconf("SC_CLK_TCK")


Row = tuple[str, str, float, str]  # measure, goal, result, unit


@dataclass
class Bench:
    server: ServerProcess
    api: httpx.Client
    project_id: str
    registration_token: str

    @property
    def api_token(self) -> str:
        return str(self.api.headers["Authorization"]).removeprefix("Token ")


@contextmanager
def running_server(db: str, env: dict[str, str] | None = None) -> Iterator[Bench]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="blockpost-bench-")))
        url = stack.enter_context(fresh_database(None if db == "sqlite" else db, tmp, "bench"))
        server = ServerProcess(url, tmp / "data", extra_env=env or {}).start()
        stack.callback(server.stop)
        api = stack.enter_context(server.admin_client())
        project = api.post(
            "/api/v1alpha/projects",
            json={"metadata": {"name": "bench"}, "spec": {"repository": {"url": "/srv/bench"}}},
        ).json()
        agent_type = api.post(
            "/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": "s1-bench"}}
        ).json()
        yield Bench(
            server, api, project["metadata"]["id"], agent_type["status"]["registration_token"]
        )


@contextmanager
def second_replica(bench: Bench) -> Iterator[ServerProcess]:
    """Another server process on the same database and data directory (PostgreSQL only)."""
    first = bench.server
    other = ServerProcess(first.database_url, first.data_dir, extra_env=first.extra_env).start()
    try:
        yield other
    finally:
        other.stop()


ECHO_PIPELINE = """\
version: v1.0
name: Echo
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Echo
    task:
      jobs:
        - name: echo
          commands:
            - echo hello
"""


@contextmanager
def echo_pipeline(db: str) -> Iterator[tuple[Bench, dict[str, str]]]:
    """A server with one embedded agent and a project whose repository (a real git
    repository) holds a one-block, one-job pipeline; yields it and the body that runs it."""
    with tempfile.TemporaryDirectory(prefix="blockpost-repo-") as tmp:
        repo = GitRepo(Path(tmp) / "repo")
        repo.commit({".semaphore/semaphore.yml": ECHO_PIPELINE})
        with running_server(db, {"BLOCKPOST_AGENTS": "1"}) as bench:
            project = bench.api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "echo"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            yield bench, {"project_id": project, "reference": "refs/heads/master"}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(name: str, rows: list[Row], extra: dict[str, Any]) -> list[Row]:
    """Prints `measure | goal | result`, writes bench/results/<name>.json, returns the rows."""
    print(f"{'measure':<44} {'goal':>12} {'result':>12}")
    for measure, goal, value, unit in rows:
        print(f"{measure:<44} {goal:>12} {value:>9.1f} {unit}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "rows": [{"measure": m, "goal": g, "result": v, "unit": u} for m, g, v, u in rows],
                **extra,
            },
            indent=2,
        )
    )
    return rows


def median(values: list[float]) -> float:
    return statistics.median(values)
