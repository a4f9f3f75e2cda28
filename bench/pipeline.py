"""Benchmark: a 10-block x 10-job pipeline (each block depending on the one before) on 50
load agents. How long from POST to pipeline `done`, against its critical path (the blocks'
job time, one after another), and what each block transition costs: from the last job of a
block reported finished to the first job of the next reaching an agent.
Goal (issue 21): done within 1.5x the critical path + 50 ms per block transition.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common import Row, cpu_seconds, median, report, running_server
from fake_agents import AGENT_TYPE, Connection, FakeAgent, register_all, stop_fleet
from tests.support.gitrepo import GitRepo

TRANSITION_BUDGET = 0.050  # seconds per block transition (the goal's allowance)


def pipeline_yaml(blocks: int, jobs: int) -> str:
    """Blocks in the implicit sequential order: each depends on the one before."""
    lines = [
        "version: v1.0",
        "name: Bench pipeline",
        "agent:",
        "  machine:",
        f"    type: {AGENT_TYPE}",
        "blocks:",
    ]
    for block in range(blocks):
        lines += [f"  - name: Block {block}", "    task:", "      jobs:"]
        for job in range(jobs):
            lines += [f"        - name: job {job}", "          commands:", "            - echo ok"]
    return "\n".join(lines) + "\n"


class TimedAgent(FakeAgent):
    """A load agent whose jobs take `job_seconds`; it notes when each job reached it and
    when its finish was acknowledged."""

    def __init__(self, url: str, registration_token: str, name: str, job_seconds: float) -> None:
        super().__init__(url, registration_token, name)
        self.job_seconds = job_seconds
        self.received: dict[str, float] = {}
        self.reported: dict[str, float] = {}

    async def run_job(self, job_id: str) -> None:
        self.received[job_id] = time.perf_counter()
        await self.job(job_id)
        await asyncio.sleep(self.job_seconds)
        await self.sync("finished-job", job_id, "passed")
        self.reported[job_id] = time.perf_counter()


@dataclass
class Run:
    total: float  # seconds from POST to the pipeline's done_at
    transitions: list[float]  # seconds, each block's last finish to the next's first run-job
    first_job: float  # seconds from POST to the first job's run-job
    cpu: float  # the server's CPU seconds over the run


async def one_run(bench, body: dict[str, str], fleet: list[TimedAgent], blocks: int) -> Run:
    api = Connection(bench.server.url)
    cpu_before = cpu_seconds(bench.server.process.pid)
    for agent in fleet:
        agent.received.clear()
        agent.reported.clear()
    try:
        started_at, start = time.time(), time.perf_counter()
        status, answer = await api.request(
            "POST", "/api/v1alpha/plumber-workflows", bench.api_token, body
        )
        assert status == 200, answer
        described_url = f"/api/v1alpha/pipelines/{answer['pipeline_id']}"
        # Polled gently (describe costs the server CPU the pipeline needs); the end is the
        # server's own done_at, on the same clock.
        while True:
            await asyncio.sleep(0.05)
            status, described = await api.request("GET", described_url, bench.api_token)
            assert status == 200, described
            if described["pipeline"]["state"] == "done":
                break
        status, described = await api.request(
            "GET", f"{described_url}?detailed=true", bench.api_token
        )
    finally:
        api.close()
    done_at = datetime.strptime(described["pipeline"]["done_at"], "%Y-%m-%d %H:%M:%S.%fZ")
    total = done_at.replace(tzinfo=UTC).timestamp() - started_at
    assert described["pipeline"]["result"] == "passed", described["pipeline"]
    received = {job: at for agent in fleet for job, at in agent.received.items()}
    reported = {job: at for agent in fleet for job, at in agent.reported.items()}
    by_block = [
        [job["job_id"] for job in block["jobs"]]
        for block in sorted(described["blocks"], key=lambda b: b["name"])
    ]
    assert len(by_block) == blocks, described["blocks"]
    transitions = [
        min(received[job] for job in nxt) - max(reported[job] for job in prev)
        for prev, nxt in itertools.pairwise(by_block)
    ]
    first = min(received[job] for job in by_block[0]) - start
    return Run(total, transitions, first, cpu_seconds(bench.server.process.pid) - cpu_before)


async def measure(
    bench, body: dict[str, str], agents: int, blocks: int, samples: int, job_seconds: float
) -> list[Run]:
    fleet = [
        TimedAgent(bench.server.url, bench.registration_token, f"ppl-{n}", job_seconds)
        for n in range(agents)
    ]
    await register_all(fleet)
    tasks = [asyncio.create_task(agent.work()) for agent in fleet]
    try:
        await asyncio.sleep(0.2)  # every agent is in a held sync
        runs = [await one_run(bench, body, fleet, blocks) for _ in range(samples + 1)]
    finally:
        await stop_fleet(tasks, fleet)
    return runs[1:]  # the first run also clones the repository


def run(args: argparse.Namespace) -> list[Row]:
    blocks, jobs = 10, 10
    agents = (args.agents or [50])[0]
    samples = args.samples or (2 if args.quick else 5)
    job_seconds = 0.1
    with tempfile.TemporaryDirectory(prefix="blockpost-repo-") as tmp:
        repo = GitRepo(Path(tmp) / "repo")
        repo.commit({".semaphore/semaphore.yml": pipeline_yaml(blocks, jobs)})
        with running_server(args.db) as bench:
            project = bench.api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "ppl"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            body = {"project_id": project, "reference": "refs/heads/master"}
            runs = asyncio.run(measure(bench, body, agents, blocks, samples, job_seconds))
    totals = [one.total for one in runs]
    transitions = [t * 1000 for one in runs for t in one.transitions]
    critical = blocks * job_seconds
    budget = 1.5 * critical + TRANSITION_BUDGET * blocks
    return report(
        "pipeline",
        [
            (
                f"{blocks}x{jobs} jobs, {agents} agents: POST -> done",
                f"<= {budget * 1000:.0f}",
                median(totals) * 1000,
                "ms",
            ),
            (
                f"  critical path ({blocks} x {job_seconds * 1000:.0f} ms jobs)",
                "",
                critical * 1000,
                "ms",
            ),
            (
                "  overhead per block (done - critical) / blocks",
                "",
                median([(t - critical) * 1000 / blocks for t in totals]),
                "ms",
            ),
            ("  block transition (finish -> next run-job) p50", "", median(transitions), "ms"),
            ("  block transition, max", "", max(transitions), "ms"),
            (
                "  POST -> first job's run-job, median",
                "",
                median([one.first_job * 1000 for one in runs]),
                "ms",
            ),
            (
                "  server CPU per job",
                "",
                median([one.cpu for one in runs]) * 1000 / (blocks * jobs),
                "ms",
            ),
        ],
        {
            "db": args.db,
            "samples": samples,
            "agents": agents,
            "job_seconds": job_seconds,
            "done_ms": [t * 1000 for t in totals],
            "transition_ms": transitions,
            "first_job_ms": [one.first_job * 1000 for one in runs],
            "server_cpu_s": [one.cpu for one in runs],
        },
    )
