"""Benchmark: list latency as history grows — one page of GET /api/v1alpha/pipelines and of
GET /api/v1alpha/plumber-workflows for a project holding 1k, 10k and 100k pipelines.
Goal (issue 9): <= 20 ms for one page with 100k pipelines in the database.

The history is written straight into the database (as finished runs), which takes seconds
where running 100k pipelines would take hours; the reads go through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

from common import Row, median, percentile, report, running_server
from fake_agents import Connection
from sqlalchemy import insert

from blockpost.db.engine import Database
from blockpost.db.models import Pipeline, Workflow
from blockpost.timefmt import utcnow

BATCH = 5000
REQUESTS = 100


def history(project_id: str, first: int, count: int) -> tuple[list[dict[str, Any]], ...]:
    """`count` finished one-pipeline workflows, numbered from `first`, a minute apart."""
    start = utcnow() - timedelta(days=200)
    workflows, pipelines = [], []
    for number in range(first, first + count):
        created = start + timedelta(minutes=number)
        wf_id, ppl_id = str(uuid.uuid4()), str(uuid.uuid4())
        branch = f"feature-{number % 50}"
        workflows.append(
            {
                "id": wf_id,
                "project_id": project_id,
                "number": number,
                "requester_id": str(uuid.uuid4()),
                "requester_name": "bench",
                "hook_id": str(uuid.uuid4()),
                "branch_id": str(uuid.uuid4()),
                "reference": f"refs/heads/{branch}",
                "ref_type": "branch",
                "ref_name": branch,
                "branch_name": branch,
                "commit_sha": "0" * 40,
                "pipeline_file": ".semaphore/semaphore.yml",
                "triggered_by": "api",
                "parameters": {},
                "initial_ppl_id": ppl_id,
                "created_at": created,
            }
        )
        pipelines.append(
            {
                "id": ppl_id,
                "workflow_id": wf_id,
                "project_id": project_id,
                "name": "Bench",
                "yaml_file_path": ".semaphore/semaphore.yml",
                "state": "done",
                "result": "passed",
                "promotions": [],
                "parameters": {},
                "ancestors": [],
                "created_at": created,
                "running_at": created + timedelta(seconds=1),
                "done_at": created + timedelta(seconds=30),
            }
        )
    return workflows, pipelines


async def grow(url: str, project_id: str, have: int, want: int) -> None:
    db = Database(url)
    try:
        for first in range(have, want, BATCH):
            workflows, pipelines = history(project_id, first + 1, min(BATCH, want - first))
            async with db.session() as session:
                await session.execute(insert(Workflow), workflows)
                await session.execute(insert(Pipeline), pipelines)
        # What autovacuum does after a bulk load; without statistics PostgreSQL sorts all
        # of a project's pipelines to return one page.
        async with db.engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE")
            await connection.commit()
    finally:
        await db.dispose()


async def page_latency(bench, path: str) -> list[float]:
    connection = Connection(bench.server.url)
    timings = []
    try:
        for _ in range(REQUESTS + 5):
            start = time.perf_counter()
            status, page = await connection.request("GET", path, bench.api_token)
            timings.append((time.perf_counter() - start) * 1000)
            assert status == 200, page
            assert len(page) == 30, page
    finally:
        connection.close()
    return timings[5:]  # the first few warm caches up


def run(args: argparse.Namespace) -> list[Row]:
    sizes = args.rows or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    rows: list[Row] = []
    extra: dict[str, Any] = {"db": args.db}
    with running_server(args.db) as bench:
        have = 0
        for size in sorted(sizes):
            asyncio.run(grow(bench.server.database_url, bench.project_id, have, size))
            have = size
            query = f"?project_id={bench.project_id}"
            for label, path in (
                ("pipelines", f"/api/v1alpha/pipelines{query}"),
                ("workflows", f"/api/v1alpha/plumber-workflows{query}"),
            ):
                timings = asyncio.run(page_latency(bench, path))
                goal = "<= 20" if label == "pipelines" and size == 100_000 else ""
                rows.append((f"list {label}, {size:,} rows, p50", goal, median(timings), "ms"))
                rows.append(
                    (f"list {label}, {size:,} rows, p99", "", percentile(timings, 0.99), "ms")
                )
                extra[f"{label}_{size}_ms"] = timings
    return report("list_latency", rows, extra)
