"""Benchmark: workflow latency — a one-block, one-job `echo` pipeline is POSTed; how long
until its pipeline is `done`, run by the embedded agent? Goal (issue 6): median <= 250 ms,
p95 <= 500 ms.
"""

from __future__ import annotations

import argparse
import time

from common import Row, echo_pipeline, median, percentile, report

POLL_SECONDS = 0.005


def run(args: argparse.Namespace) -> list[Row]:
    samples = args.samples or (10 if args.quick else 100)
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
    return report(
        "workflow_latency",
        [
            ("POST workflow -> pipeline done, median", "<= 250", median(latencies), "ms"),
            ("POST workflow -> pipeline done, p95", "<= 500", percentile(latencies, 0.95), "ms"),
            ("of which the POST itself (git fetch), median", "", median(posts), "ms"),
        ],
        {"db": args.db, "samples": samples, "latency_ms": latencies, "post_ms": posts},
    )
