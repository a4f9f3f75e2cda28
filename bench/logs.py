"""Benchmark: job log ingestion rate, and the lag of a live tail.
Goals (issue 5): ingestion >= 50 MB/s into the store; live tail lag <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
from common import Row, median, percentile, report, running_server
from fake_agents import FakeAgent, job_body

LINES_PER_PUSH = 2000
OUTPUT_BYTES = 1000


def batch(count: int) -> str:
    chunk = "x" * (OUTPUT_BYTES - 1) + "\n"
    return "\n".join(
        json.dumps({"event": "cmd_output", "timestamp": 1700000000, "output": chunk})
        for _ in range(count)
    )


async def running_job(bench, client: httpx.AsyncClient, name: str) -> tuple[str, str, str]:
    agent = FakeAgent(bench.server.url, bench.registration_token, name)
    await agent.register()
    created = await client.post(
        "/api/v1alpha/jobs", json=job_body(bench.project_id, name), headers=dict(bench.api.headers)
    )
    created.raise_for_status()
    answer = await agent.sync("waiting-for-jobs")
    logger = (await agent.job(answer["job_id"]))["logger"]
    return answer["job_id"], logger["url"], logger["token"]


async def ingestion(bench, pushes: int) -> float:
    async with httpx.AsyncClient(base_url=bench.server.url, timeout=60) as client:
        _, url, token = await running_job(bench, client, "ingest")
        body = batch(LINES_PER_PUSH)
        started = time.perf_counter()
        for n in range(pushes):
            response = await client.post(
                url,
                params={"start_from": n * LINES_PER_PUSH},
                content=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
        elapsed = time.perf_counter() - started
    return pushes * len(body) / elapsed / 1e6


async def tail_lag(bench, samples: int) -> list[float]:
    lags = []
    async with httpx.AsyncClient(base_url=bench.server.url, timeout=60) as client:
        job_id, url, token = await running_job(bench, client, "tail")
        api_headers = dict(bench.api.headers)
        for n in range(samples):
            reader = asyncio.create_task(
                client.get(
                    f"/api/v1alpha/logs/{job_id}",
                    params={"start": n, "wait": 10},
                    headers=api_headers,
                )
            )
            await asyncio.sleep(0.05)  # the reader is now waiting on the server
            written = time.perf_counter()
            await client.post(
                url,
                params={"start_from": n},
                content=json.dumps({"event": "cmd_output", "timestamp": 1, "output": f"{n}\n"}),
                headers={"Authorization": f"Bearer {token}"},
            )
            events = (await reader).json()["events"]
            lags.append((time.perf_counter() - written) * 1000)
            assert events, f"no event {n}"
            assert events[0]["output"] == f"{n}\n", events
    return lags


def run(args: argparse.Namespace) -> list[Row]:
    pushes = args.samples or (5 if args.quick else 50)
    samples = 20 if args.quick else 100
    env = {
        "BLOCKPOST_LOG_MAX_BYTES": str(4 * 1024**3),
        "BLOCKPOST_MAX_BODY_BYTES": str(8 * 1024**2),
    }
    with running_server(args.db, env) as bench:
        rate = asyncio.run(ingestion(bench, pushes))
        lags = asyncio.run(tail_lag(bench, samples))
    return report(
        "logs",
        [
            (f"ingestion, {LINES_PER_PUSH}-line pushes of 1 kB events", ">= 50", rate, "MB/s"),
            ("live tail lag p50 (push sent -> reader has it)", "<= 100", median(lags), "ms"),
            ("live tail lag p99", "<= 100", percentile(lags, 0.99), "ms"),
        ],
        {"db": args.db, "pushes": pushes, "ingestion_mb_per_s": rate, "tail_lag_ms": lags},
    )
