"""Benchmark: the idle server, and many idle agents long-polling it — the server's CPU and
memory. Goals (issue 9): idle server RSS <= 120 MB; 1,000 idle agents cost the server
< 10% of one core, RSS reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from common import Row, report, running_server
from fake_agents import FakeAgent, register_all

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def idle_agents(
    url: str, token: str, count: int, seconds: float, pid: int
) -> dict[str, float]:
    agents = [FakeAgent(url, token, f"idle-{n}") for n in range(count)]
    await register_all(agents)
    warmed_up = asyncio.Event()
    syncs = 0

    async def poll(agent: FakeAgent) -> None:
        nonlocal syncs
        while True:
            answer = await agent.sync("waiting-for-jobs")
            syncs += 1
            if syncs >= count:
                warmed_up.set()
            await asyncio.sleep(answer["next_sync_after"] / 1000)

    tasks = [asyncio.create_task(poll(agent)) for agent in agents]
    # Steady state only: every agent's first (held) sync has been answered.
    await warmed_up.wait()
    cpu_before, syncs_before, started = cpu_seconds(pid), syncs, time.monotonic()
    await asyncio.sleep(seconds)
    cpu_used, elapsed = cpu_seconds(pid) - cpu_before, time.monotonic() - started
    rate = (syncs - syncs_before) / elapsed
    rss = rss_mb(pid)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(agent.disconnect() for agent in agents), return_exceptions=True)
    return {"cpu_percent": 100 * cpu_used / elapsed, "rss_mb": rss, "syncs_per_second": rate}


def run(args: argparse.Namespace) -> list[Row]:
    count = max(args.agents or [100 if args.quick else 1000])
    seconds = args.seconds or (5.0 if args.quick else 30.0)
    # A quick run is shorter than the default 20 s hold: hold 2 s so agents do re-sync.
    env = {"BLOCKPOST_SYNC_HOLD_SECONDS": "2"} if args.quick else {}
    with running_server(args.db, env) as bench:
        assert bench.server.process is not None
        pid = bench.server.process.pid
        time.sleep(1)  # past start-up's transient allocations
        idle_rss = rss_mb(pid)
        result = asyncio.run(
            idle_agents(bench.server.url, bench.registration_token, count, seconds, pid)
        )
    return report(
        "agents_idle",
        [
            ("idle server RSS", "<= 120", idle_rss, "MB"),
            (f"server CPU, {count} idle agents", "< 10", result["cpu_percent"], "% core"),
            (f"server RSS, {count} idle agents", "report", result["rss_mb"], "MB"),
            ("syncs answered per second", "report", result["syncs_per_second"], "/s"),
        ],
        {"db": args.db, "agents": count, "seconds": seconds, "idle_rss_mb": idle_rss, **result},
    )
