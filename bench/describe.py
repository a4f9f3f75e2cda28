"""Benchmark: pipeline describe throughput — GET /api/v1alpha/pipelines/{id} requests per
second, against a trivial FastAPI endpoint served by uvicorn in the same run. Goal
(issue 6): describe / trivial >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import httpx
from common import Row, cpu_seconds, echo_pipeline, report
from tests.support.server import free_port

CONCURRENCY = 8
TRIVIAL_APP = """
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


# as `blockpost serve` runs uvicorn (access log included)
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="info", proxy_headers=False)
"""


async def throughput(
    url: str, headers: dict[str, str], seconds: float, pid: int
) -> tuple[float, float]:
    """Requests per second that CONCURRENCY clients get answered with 200, and the CPU
    milliseconds the server process `pid` spent per request (steadier than the rate on a
    machine shared with other work)."""
    count = 0
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        for _ in range(20):  # warm-up
            (await client.get(url)).raise_for_status()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                response = await client.get(url)
                response.raise_for_status()
                count += 1

        start, cpu = time.perf_counter(), cpu_seconds(pid)
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        used = cpu_seconds(pid) - cpu
        return count / (time.perf_counter() - start), 1000 * used / max(1, count)


def trivial_rps(seconds: float) -> tuple[float, float]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", TRIVIAL_APP.replace("{port}", str(port))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/ping"
        for _ in range(100):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        return asyncio.run(throughput(url, {}, seconds, process.pid))
    finally:
        process.terminate()
        process.wait()


def run(args: argparse.Namespace) -> list[Row]:
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    with echo_pipeline(args.db) as (bench, body):
        api = bench.api
        run = api.post("/api/v1alpha/plumber-workflows", json=body).json()
        url = f"{bench.server.url}/api/v1alpha/pipelines/{run['pipeline_id']}"
        while api.get(url).json()["pipeline"]["state"] != "done":
            time.sleep(0.05)
        headers = dict(api.headers)
        assert bench.server.process is not None
        pid = bench.server.process.pid
        describe, describe_cpu = asyncio.run(throughput(url, headers, seconds, pid))
        detailed, detailed_cpu = asyncio.run(
            throughput(url + "?detailed=true", headers, seconds, pid)
        )
    trivial, trivial_cpu = trivial_rps(seconds)  # once the server is gone: a quieter CPU
    return report(
        "describe",
        [
            ("describe pipeline / trivial endpoint", ">= 0.5", describe / trivial, "x"),
            ("same by server CPU per request", ">= 0.5", trivial_cpu / describe_cpu, "x"),
            ("describe pipeline", "", describe, "req/s"),
            ("describe pipeline, server CPU per request", "", describe_cpu, "ms"),
            ("describe pipeline, detailed=true", "", detailed, "req/s"),
            ("detailed=true, server CPU per request", "", detailed_cpu, "ms"),
            ("trivial FastAPI endpoint, same uvicorn", "", trivial, "req/s"),
            ("trivial endpoint, server CPU per request", "", trivial_cpu, "ms"),
        ],
        {"db": args.db, "seconds": seconds, "concurrency": CONCURRENCY},
    )
