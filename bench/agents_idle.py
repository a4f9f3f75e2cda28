"""Benchmark: many idle agents long-polling one server — the server's CPU and memory.
Goal (issue 5): 1,000 idle agents cost the server < 10% of one core; RSS reported.

Usage: python bench/agents_idle.py [--quick] [--agents N] [--seconds S] [--db ...]
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
from common import FakeAgent, arguments, report, running_server

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
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        agents = [FakeAgent(client, token, f"idle-{n}") for n in range(count)]
        for start in range(0, count, 50):
            await asyncio.gather(*(a.register() for a in agents[start : start + 50]))
        stop = asyncio.Event()
        warmed_up = asyncio.Event()
        syncs = 0

        async def poll(agent: FakeAgent) -> None:
            nonlocal syncs
            while not stop.is_set():
                answer = await agent.sync("waiting-for-jobs")
                syncs += 1
                if syncs >= count:
                    warmed_up.set()
                await asyncio.sleep(answer["next_sync_after"] / 1000)

        tasks = [asyncio.create_task(poll(a)) for a in agents]
        # Steady state only: every agent's first (held) sync has been answered.
        await warmed_up.wait()
        cpu_before, syncs_before, started = cpu_seconds(pid), syncs, time.monotonic()
        await asyncio.sleep(seconds)
        cpu_used, elapsed = cpu_seconds(pid) - cpu_before, time.monotonic() - started
        rate = (syncs - syncs_before) / elapsed
        rss = rss_mb(pid)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(a.disconnect() for a in agents), return_exceptions=True)
    return {"cpu_percent": 100 * cpu_used / elapsed, "rss_mb": rss, "syncs_per_second": rate}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--agents", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    count = args.agents or (100 if args.quick else 1000)
    seconds = args.seconds or (5.0 if args.quick else 30.0)
    # A quick run is shorter than the default 20 s hold: hold 2 s so agents do re-sync.
    env = {"BLOCKPOST_SYNC_HOLD_SECONDS": "2"} if args.quick else {}
    with running_server(args.db, env) as bench:
        pid = bench.server.process.pid if bench.server.process else 0
        idle_rss = rss_mb(pid)
        result = asyncio.run(
            idle_agents(bench.server.url, bench.registration_token, count, seconds, pid)
        )
    report(
        "agents_idle",
        [
            (f"server CPU, {count} idle agents", "< 10", result["cpu_percent"], "% core"),
            (f"server RSS, {count} idle agents", "report", result["rss_mb"], "MB"),
            ("server RSS before agents", "report", idle_rss, "MB"),
            ("syncs answered per second", "report", result["syncs_per_second"], "/s"),
        ],
        {"db": args.db, "agents": count, "seconds": seconds, **result},
    )


if __name__ == "__main__":
    main()
