"""Benchmark: workflow latency — a one-block, one-job `echo` pipeline is POSTed; how long
until its pipeline is `done`, run by the embedded agent? Goal (issue 6): median <= 250 ms,
p95 <= 500 ms. And how long until the first job's `run-job` reaches a waiting (load) agent,
with the reference alone (the server fetches: the branch may have moved) and with the
commit too (a known commit: no git at all)? Goal (issue 21): p50 <= 30 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Bench, Row, echo_pipeline, median, percentile, report, running_server
from fake_agents import AGENT_TYPE, Connection, FakeAgent, stop_fleet
from tests.support.gitrepo import GitRepo

POLL_SECONDS = 0.005
LOAD_PIPELINE = f"""\
version: v1.0
name: First job
agent:
  machine:
    type: {AGENT_TYPE}
blocks:
  - name: One
    task:
      jobs:
        - name: one
          commands:
            - echo hello
"""


def to_done(args: argparse.Namespace, samples: int) -> list[Row]:
    latencies, posts = [], []
    with echo_pipeline(args.db) as (bench, body):
        api = bench.api
        for n in range(samples + 1):
            start = time.perf_counter()
            response = api.post("/api/v1alpha/plumber-workflows", json=body)
            posted = time.perf_counter()
            response.raise_for_status()
            ppl = response.json()["pipeline_id"]
            while True:
                state = api.get(f"/api/v1alpha/pipelines/{ppl}").json()["pipeline"]
                if state["state"] == "done":
                    break
                time.sleep(POLL_SECONDS)
            done = time.perf_counter()
            assert state["result"] == "passed", state
            if n:  # the first run also clones the repository and warms the agent
                latencies.append((done - start) * 1000)
                posts.append((posted - start) * 1000)
    return [
        ("POST workflow -> pipeline done, median", "<= 250", median(latencies), "ms"),
        ("POST workflow -> pipeline done, p95", "<= 500", percentile(latencies, 0.95), "ms"),
        ("of which the POST itself (git fetch), median", "", median(posts), "ms"),
    ]


async def first_jobs(
    bench: Bench, body: dict[str, Any], samples: int
) -> tuple[list[float], list[float]]:
    """(POST -> run-job ms, POST ms) per run; each run ends before the next is POSTed (runs
    of one branch and file queue behind each other)."""
    agent = FakeAgent(bench.server.url, bench.registration_token, "first-job")
    await agent.register()
    received: dict[str, float] = {}
    finished = asyncio.Event()
    task = asyncio.create_task(
        agent.work(
            lambda job_id: received.setdefault(job_id, time.perf_counter()),
            lambda _: finished.set(),
        )
    )
    api = Connection(bench.server.url)
    firsts, posts = [], []
    try:
        for n in range(samples + 1):
            await asyncio.sleep(0.03)  # the agent is back in a held sync
            finished.clear()
            start = time.perf_counter()
            status, answer = await api.request(
                "POST", "/api/v1alpha/plumber-workflows", bench.api_token, body
            )
            posted = time.perf_counter()
            assert status == 200, answer
            await asyncio.wait_for(finished.wait(), 30)
            url = f"/api/v1alpha/pipelines/{answer['pipeline_id']}?detailed=true"
            while True:
                status, described = await api.request("GET", url, bench.api_token)
                if described["pipeline"]["state"] == "done":
                    break
                await asyncio.sleep(POLL_SECONDS)
            job_id = described["blocks"][0]["jobs"][0]["job_id"]
            if n:  # the first run also clones the repository
                firsts.append((received[job_id] - start) * 1000)
                posts.append((posted - start) * 1000)
    finally:
        api.close()
        await stop_fleet([task], [agent])
    return firsts, posts


def to_first_job(args: argparse.Namespace, samples: int) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="blockpost-repo-") as tmp:
        repo = GitRepo(Path(tmp) / "repo")
        sha = repo.commit({".semaphore/semaphore.yml": LOAD_PIPELINE})
        with running_server(args.db) as bench:
            project = bench.api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "first"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            body = {"project_id": project, "reference": "refs/heads/master"}
            runs = (("reference", body), ("reference + commit_sha", {**body, "commit_sha": sha}))
            for label, sent in runs:
                firsts, posts = asyncio.run(first_jobs(bench, sent, samples))
                rows += [
                    (f"POST -> first run-job p50, {label}", "<= 30", median(firsts), "ms"),
                    (f"POST -> first run-job p95, {label}", "", percentile(firsts, 0.95), "ms"),
                    ("  of which the POST itself, p50", "", median(posts), "ms"),
                ]
    return rows


def run(args: argparse.Namespace) -> list[Row]:
    samples = args.samples or (10 if args.quick else 100)
    rows = to_done(args, samples) + to_first_job(args, samples)
    return report("workflow_latency", rows, {"db": args.db, "samples": samples})
