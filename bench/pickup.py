"""Benchmark: job pickup — a job is POSTed; how long until an idle, long-polling agent is
told `run-job`? Goal (issue 5): p50 <= 20 ms, p99 <= 100 ms on loopback.

Usage: python bench/pickup.py [--quick] [--db sqlite|postgresql+asyncpg://...]
"""

from __future__ import annotations

import asyncio
import time

import httpx
from common import FakeAgent, arguments, job_body, median, percentile, report, running_server


async def measure(bench, samples: int) -> tuple[list[float], list[float]]:
    pickups, posts = [], []
    async with httpx.AsyncClient(base_url=bench.server.url, timeout=30) as client:
        agent = FakeAgent(client, bench.registration_token, "pickup-agent")
        await agent.register()
        api = httpx.AsyncClient(
            base_url=bench.server.url, timeout=30, headers=dict(bench.api.headers)
        )
        for n in range(samples):
            held = asyncio.create_task(agent.sync("waiting-for-jobs"))
            await asyncio.sleep(0.05)  # the sync is now held open on the server
            start = time.perf_counter()
            response = await api.post("/api/v1alpha/jobs", json=job_body(bench.project_id, f"j{n}"))
            posted = time.perf_counter()
            answer = await held
            received = time.perf_counter()
            response.raise_for_status()
            assert answer["action"] == "run-job", answer
            pickups.append((received - start) * 1000)
            posts.append((posted - start) * 1000)
            await agent.sync("finished-job", answer["job_id"], "passed")
        await api.aclose()
        await agent.disconnect()
    return pickups, posts


def main() -> None:
    args = arguments(__doc__).parse_args()
    samples = 30 if args.quick else 300
    with running_server(args.db) as bench:
        pickups, posts = asyncio.run(measure(bench, samples))
    report(
        "pickup",
        [
            ("pickup p50 (POST sent -> run-job received)", "<= 20", median(pickups), "ms"),
            ("pickup p99", "<= 100", percentile(pickups, 0.99), "ms"),
            ("of which the POST itself, p50", "", median(posts), "ms"),
        ],
        {"db": args.db, "samples": samples, "pickup_ms": pickups, "post_ms": posts},
    )


if __name__ == "__main__":
    main()
