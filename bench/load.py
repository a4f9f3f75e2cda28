"""Load: many concurrent API clients for a while — runs, describes, lists and log tails
mixed — against one server with embedded agents running the pipelines. Goal (issue 10):
200 clients for 60 s with zero errors (any 5xx, refused connection or unexpected status);
latency p50/p99 per kind of request reported. Errors fail the benchmark, also in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict
from typing import Any

from common import Row, echo_pipeline, median, percentile, report
from fake_agents import Connection

# kind of request -> share of the mix
MIX = {"run": 0.1, "describe": 0.4, "list": 0.3, "log": 0.2}


class Load:
    def __init__(self, url: str, token: str, body: dict[str, str]) -> None:
        self.url = url
        self.token = token
        self.body = body
        self.pipelines: list[str] = []
        self.jobs: list[str] = []
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    async def call(self, connection: Connection, kind: str, path: str, body: Any = None) -> Any:
        start = time.perf_counter()
        try:
            status, answer = await connection.request(
                "POST" if body is not None else "GET", path, self.token, body
            )
        except (ConnectionError, OSError) as exc:
            self.errors.append(f"{kind} {path}: {exc!r}")
            connection.close()
            return None
        self.timings[kind].append((time.perf_counter() - start) * 1000)
        if status != 200:
            self.errors.append(f"{kind} {path}: {status} {answer}")
            return None
        return answer

    async def client(self, stop: asyncio.Event) -> None:
        connection = Connection(self.url)
        kinds, weights = list(MIX), list(MIX.values())
        try:
            while not stop.is_set():
                kind = random.choices(kinds, weights)[0]
                if kind == "run" or not self.pipelines:
                    answer = await self.call(
                        connection, "run", "/api/v1alpha/plumber-workflows", self.body
                    )
                    if answer:
                        self.pipelines.append(answer["pipeline_id"])
                elif kind == "describe":
                    ppl = random.choice(self.pipelines)
                    path = f"/api/v1alpha/pipelines/{ppl}?detailed=true"
                    answer = await self.call(connection, kind, path)
                    for block in (answer or {}).get("blocks", []):
                        self.jobs.extend(job["job_id"] for job in block["jobs"])
                elif kind == "list":
                    project = self.body["project_id"]
                    await self.call(
                        connection, kind, f"/api/v1alpha/pipelines?project_id={project}"
                    )
                elif self.jobs:
                    job = random.choice(self.jobs)
                    await self.call(connection, "log", f"/api/v1alpha/logs/{job}")
        finally:
            connection.close()


async def drive(load: Load, clients: int, seconds: float) -> float:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(load.client(stop)) for _ in range(clients)]
    started = time.monotonic()
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return time.monotonic() - started


def run(args: argparse.Namespace) -> list[Row]:
    clients = args.clients or (50 if args.quick else 200)
    seconds = args.seconds or (5.0 if args.quick else 60.0)
    with echo_pipeline(args.db) as (bench, body):
        load = Load(bench.server.url, bench.api_token, body)
        elapsed = asyncio.run(drive(load, clients, seconds))
    if load.errors:
        raise RuntimeError(f"{len(load.errors)} errors under load, e.g. {load.errors[:3]}")
    total = sum(len(t) for t in load.timings.values())
    rows: list[Row] = [
        (f"errors, {clients} clients for {seconds:g} s", "0", len(load.errors), ""),
        ("requests per second", "", total / elapsed, "/s"),
    ]
    for kind in MIX:
        timings = load.timings[kind]
        if timings:
            rows.append((f"{kind}: p50", "", median(timings), "ms"))
            rows.append((f"{kind}: p99", "", percentile(timings, 0.99), "ms"))
    return report(
        "load",
        rows,
        {"db": args.db, "clients": clients, "seconds": elapsed, "requests": total},
    )
