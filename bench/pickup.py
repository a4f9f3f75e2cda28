"""Benchmark: job pickup — a job is POSTed; how long until one of the idle, long-polling
agents is told `run-job`? Measured with 1, 10, 50 and 200 agents waiting, to show how the
wake-up scales. Goal (issue 9): p50 <= 20 ms, p99 <= 100 ms on loopback (idle agent).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from common import Row, median, percentile, report, running_server
from fake_agents import Connection, FakeAgent, job_body, register_all, stop_fleet


async def measure(bench, agents: int, samples: int) -> tuple[list[float], list[float]]:
    fleet = [
        FakeAgent(bench.server.url, bench.registration_token, f"pickup-{n}") for n in range(agents)
    ]
    await register_all(fleet)
    received: dict[str, float] = {}
    finished = asyncio.Event()

    def picked(job_id: str) -> None:
        received[job_id] = time.perf_counter()

    tasks = [asyncio.create_task(agent.work(picked, lambda _: finished.set())) for agent in fleet]
    api = Connection(bench.server.url)
    pickups, posts = [], []
    try:
        for n in range(samples):
            await asyncio.sleep(0.03)  # every agent is back in a held sync
            finished.clear()
            start = time.perf_counter()
            status, job = await api.request(
                "POST", "/api/v1alpha/jobs", bench.api_token, job_body(bench.project_id, f"j{n}")
            )
            posted = time.perf_counter()
            assert status == 200, job
            job_id = job["metadata"]["id"]
            await asyncio.wait_for(finished.wait(), 30)
            pickups.append((received[job_id] - start) * 1000)
            posts.append((posted - start) * 1000)
    finally:
        api.close()
        await stop_fleet(tasks, fleet)
    return pickups, posts


def run(args: argparse.Namespace) -> list[Row]:
    sizes = args.agents or ([1, 10] if args.quick else [1, 10, 50, 200])
    samples = args.samples or (30 if args.quick else 300)
    rows: list[Row] = []
    extra: dict[str, object] = {"db": args.db, "samples": samples}
    for size in sizes:
        # A fresh server per fleet size: agents of the last size are not left long-polling.
        with running_server(args.db) as bench:
            pickups, posts = asyncio.run(measure(bench, size, samples))
        idle = size == sizes[0]
        rows += [
            (f"pickup p50, {size} agents waiting", "<= 20" if idle else "", median(pickups), "ms"),
            (
                f"pickup p99, {size} agents waiting",
                "<= 100" if idle else "",
                percentile(pickups, 0.99),
                "ms",
            ),
            ("  of which the POST itself, p50", "", median(posts), "ms"),
        ]
        extra[f"pickup_ms_{size}"] = pickups
        extra[f"post_ms_{size}"] = posts
    return report("pickup", rows, extra)
