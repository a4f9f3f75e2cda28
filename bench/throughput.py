"""Benchmark: end-to-end jobs per second — jobs POSTed through the API, picked up by load
agents, their payloads fetched and their results reported — at several fleet sizes, with
the server's CPU time per job, and on PostgreSQL with two server replicas on one database.
Goals (issue 21): >= 300 jobs/s with 50 agents, i.e. <= 3 ms of server CPU per job; two
replicas >= 1.6x one (on 2 cores: CPU per job stays flat).

The load (agents and submitters) runs in a process of its own (bench/fake_agents.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common import Bench, Row, report, running_server, second_replica
from tests.support.server import ServerProcess

HERE = Path(__file__).resolve().parent
REPLICA_AGENTS = 50


@dataclass(frozen=True)
class Rate:
    jobs_per_second: float
    cpu_ms_per_job: float  # all server processes together
    cpu_percent: list[float]  # each server process's share of a core


def server_pids(server: ServerProcess) -> list[int]:
    """The server process and the HTTP workers it forked (`--workers N`)."""
    assert server.process is not None
    pid = server.process.pid
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    forks = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            same = (proc / "cmdline").read_bytes() == command
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if same and parent == pid:
            forks.append(int(proc.name))
    return [pid, *forks]


def fleet(servers: list[ServerProcess], bench: Bench, agents: int, seconds: float) -> Rate:
    """Jobs per second that `agents` load agents complete, with the queue kept full."""
    command = [sys.executable, str(HERE / "fake_agents.py")]
    for server in servers:
        command += ["--url", server.url]
        for pid in server_pids(server):
            command += ["--server-pid", str(pid)]
    command += [
        "--registration-token",
        bench.registration_token,
        "--agents",
        str(agents),
        "--seconds",
        str(seconds),
        "--submit-token",
        bench.api_token,
        "--project-id",
        bench.project_id,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"fake_agents failed:\n{done.stderr}")
    result = json.loads(done.stdout.splitlines()[-1])
    return Rate(
        float(result["jobs_per_second"]),
        sum(result["server_cpu_ms_per_job"]),
        list(result["server_cpu_percent"]),
    )


def run(args: argparse.Namespace) -> list[Row]:
    sizes = args.agents or ([1, 10] if args.quick else [1, 10, 50, 200])
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    rates: dict[int, Rate] = {}
    replicas: Rate | None = None
    workers: Rate | None = None
    with running_server(args.db) as bench:
        for size in sizes:
            rates[size] = fleet([bench.server], bench, size, seconds)
            rate = rates[size]
            print(
                f"  {size} agents: {rate.jobs_per_second:.0f} jobs/s, "
                f"{rate.cpu_ms_per_job:.2f} ms server CPU per job",
                flush=True,
            )
        if args.db != "sqlite":
            if REPLICA_AGENTS not in rates:
                rates[REPLICA_AGENTS] = fleet([bench.server], bench, REPLICA_AGENTS, seconds)
            with second_replica(bench) as other:
                replicas = fleet([bench.server, other], bench, REPLICA_AGENTS, seconds)
    if args.db != "sqlite":
        with running_server(args.db, {"BLOCKPOST_WORKERS": "2"}) as two:
            workers = fleet([two.server], two, REPLICA_AGENTS, seconds)
    rows: list[Row] = []
    for size in sizes:
        goal = ">= 300" if size == REPLICA_AGENTS else ""
        rows.append((f"jobs/s, {size} load agents", goal, rates[size].jobs_per_second, "jobs/s"))
        cpu_goal = "<= 3" if size == REPLICA_AGENTS else ""
        rows.append(
            (f"server CPU per job, {size} agents", cpu_goal, rates[size].cpu_ms_per_job, "ms")
        )
    if replicas is not None:
        single = rates[REPLICA_AGENTS]
        rows += [
            (
                f"jobs/s, {REPLICA_AGENTS} agents, 2 replicas",
                "",
                replicas.jobs_per_second,
                "jobs/s",
            ),
            (
                "2 replicas / 1 replica",
                ">= 1.6",
                replicas.jobs_per_second / single.jobs_per_second,
                "x",
            ),
            ("server CPU per job, 2 replicas", "flat", replicas.cpu_ms_per_job, "ms"),
            # what two replicas would do with a core each: each core's budget over CPU per job
            ("projected 2 replicas, a core each", "", 2000 / replicas.cpu_ms_per_job, "jobs/s"),
        ]
    if workers is not None:
        rows += [
            (
                f"jobs/s, {REPLICA_AGENTS} agents, serve --workers 2",
                "",
                workers.jobs_per_second,
                "jobs/s",
            ),
            ("server CPU per job, --workers 2", "flat", workers.cpu_ms_per_job, "ms"),
        ]
    return report(
        "throughput",
        rows,
        {
            "db": args.db,
            "seconds": seconds,
            "jobs_per_second": {size: rate.jobs_per_second for size, rate in rates.items()},
            "server_cpu_ms_per_job": {size: rate.cpu_ms_per_job for size, rate in rates.items()},
            "server_cpu_percent": {size: rate.cpu_percent for size, rate in rates.items()},
            "replicas": replicas.jobs_per_second if replicas else None,
            "replicas_cpu_ms_per_job": replicas.cpu_ms_per_job if replicas else None,
            "replicas_cpu_percent": replicas.cpu_percent if replicas else None,
            "workers_2": workers.jobs_per_second if workers else None,
            "workers_2_cpu_ms_per_job": workers.cpu_ms_per_job if workers else None,
            "workers_2_cpu_percent": workers.cpu_percent if workers else None,
        },
    )
