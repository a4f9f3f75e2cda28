"""Benchmark: end-to-end jobs per second — jobs POSTed through the API, picked up by load
agents, their payloads fetched and their results reported — at several fleet sizes, and on
PostgreSQL with two server replicas on one database.
Goals (issue 9): >= 300 jobs/s with 50 agents on PostgreSQL; two replicas >= 1.6x one.

The load (agents and submitters) runs in a process of its own (bench/fake_agents.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import Row, report, running_server, second_replica

HERE = Path(__file__).resolve().parent
REPLICA_AGENTS = 50


def fleet(urls: list[str], bench, agents: int, seconds: float) -> float:
    """Jobs per second that `agents` load agents complete, with the queue kept full."""
    command = [sys.executable, str(HERE / "fake_agents.py")]
    for url in urls:
        command += ["--url", url]
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
    return float(json.loads(done.stdout.splitlines()[-1])["jobs_per_second"])


def run(args: argparse.Namespace) -> list[Row]:
    sizes = args.agents or ([1, 10] if args.quick else [1, 10, 50, 200])
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    rates: dict[int, float] = {}
    replicas: float | None = None
    with running_server(args.db) as bench:
        for size in sizes:
            rates[size] = fleet([bench.server.url], bench, size, seconds)
            print(f"  {size} agents: {rates[size]:.0f} jobs/s", flush=True)
        if args.db != "sqlite":
            single = rates.get(REPLICA_AGENTS) or fleet(
                [bench.server.url], bench, REPLICA_AGENTS, seconds
            )
            with second_replica(bench) as other:
                replicas = fleet([bench.server.url, other.url], bench, REPLICA_AGENTS, seconds)
            rates.setdefault(REPLICA_AGENTS, single)
    rows: list[Row] = []
    for size in sizes:
        goal = ">= 300" if size == REPLICA_AGENTS else ""
        rows.append((f"jobs/s, {size} load agents", goal, rates[size], "jobs/s"))
    if replicas is not None:
        rows.append((f"jobs/s, {REPLICA_AGENTS} agents, 2 replicas", "", replicas, "jobs/s"))
        rows.append(("2 replicas / 1 replica", ">= 1.6", replicas / rates[REPLICA_AGENTS], "x"))
    return report(
        "throughput",
        rows,
        {"db": args.db, "seconds": seconds, "jobs_per_second": rates, "replicas": replicas},
    )
