"""Benchmark: the web UI's pipeline page for a pipeline of 300 jobs in 10 blocks — time to
answer GET /ui/pipelines/{id} and its live fragment to a browser's session, while the
pipeline waits for agents (30 jobs queued, why each waits) and once fake agents have run
every job to passed.
Goal (issue 20): under 200 ms.

Timed from the client on the loopback interface: an upper bound of the server's time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from common import Bench, Row, median, percentile, report, running_server
from fake_agents import FakeAgent, register_all, stop_fleet
from tests.support.gitrepo import GitRepo

JOBS_PER_BLOCK = 30
# block -> its dependencies: fan-out, fan-in and a second layer of each
BLOCKS = {
    "B0": [],
    "B1": ["B0"],
    "B2": ["B0"],
    "B3": ["B0"],
    "B4": ["B1", "B2"],
    "B5": ["B3"],
    "B6": ["B4", "B5"],
    "B7": ["B6"],
    "B8": ["B6"],
    "B9": ["B7", "B8"],
}
GOAL_MS = 200
AGENTS = 20


def pipeline_yaml() -> str:
    lines = ["version: v1.0", "name: Wide", "agent:", "  machine:", "    type: s1-bench"]
    lines.append("blocks:")
    for name, dependencies in BLOCKS.items():
        lines += [
            f"  - name: {name}",
            f"    dependencies: [{', '.join(dependencies)}]",
            "    task:",
            "      jobs:",
            "        - name: job",
            f"          parallelism: {JOBS_PER_BLOCK}",
            "          commands: [echo hello]",
        ]
    return "\n".join(lines) + "\n"


def timings(client: httpx.Client, url: str, samples: int) -> list[float]:
    for _ in range(3):  # warm-up: templates compiled, connections open
        client.get(url).raise_for_status()
    found = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(url)
        found.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return found


def wait_for(api: httpx.Client, ppl_id: str, done: bool) -> None:
    url = f"/api/v1alpha/pipelines/{ppl_id}"
    for _ in range(1200):
        body = api.get(url, params={"detailed": "true"}).json()
        jobs = sum(len(block["jobs"]) for block in body["blocks"])
        state = body["pipeline"]["state"]
        if jobs == len(BLOCKS) * JOBS_PER_BLOCK and (state == "done") == done:
            return
        time.sleep(0.1)
    raise RuntimeError(f"pipeline {ppl_id} did not get its jobs (done={done})")


async def run_all(bench: Bench, ppl_id: str) -> None:
    """Fake agents take every job and report it passed, until the pipeline is done."""
    agents = [
        FakeAgent(bench.server.url, bench.registration_token, f"ui-{n}") for n in range(AGENTS)
    ]
    await register_all(agents)
    tasks = [asyncio.create_task(agent.work()) for agent in agents]
    try:
        await asyncio.to_thread(wait_for, bench.api, ppl_id, True)
    finally:
        await stop_fleet(tasks, agents)


def run(args: argparse.Namespace) -> list[Row]:
    samples = args.samples or (10 if args.quick else 50)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="blockpost-repo-") as tmp,
        running_server(args.db) as bench,
    ):
        repo = GitRepo(Path(tmp) / "repo")
        repo.commit({".semaphore/semaphore.yml": pipeline_yaml()})
        api = bench.api
        project = api.post(
            "/api/v1alpha/projects",
            json={"metadata": {"name": "wide"}, "spec": {"repository": {"url": repo.url}}},
        ).json()["metadata"]["id"]
        ppl = api.post(
            "/api/v1alpha/plumber-workflows",
            json={"project_id": project, "reference": "refs/heads/master"},
        ).json()["pipeline_id"]
        wait_for(api, ppl, done=False)
        with httpx.Client(base_url=bench.server.url, timeout=30) as browser:
            login = {"auth": "admin", "password": bench.server.admin_password}
            browser.post("/api/auth/login", json=login).raise_for_status()
            for phase in ("waiting", "done"):
                if phase == "done":
                    asyncio.run(run_all(bench, ppl))
                for what, path in (("page", ""), ("live part", "/live")):
                    found = timings(browser, f"/ui/pipelines/{ppl}{path}", samples)
                    label = f"300-job pipeline {what}, {phase}"
                    rows.append((f"{label}, median", f"< {GOAL_MS}", median(found), "ms"))
                    rows.append((f"{label}, p95", f"< {GOAL_MS}", percentile(found, 0.95), "ms"))
    return report(
        "ui_pages",
        rows,
        {"db": args.db, "samples": samples, "jobs": len(BLOCKS) * JOBS_PER_BLOCK},
    )
