"""Benchmark: how fast a webhook is answered — signed GitHub push deliveries (the published
sample payload) posted to a real server, which verifies, decides and records each before
answering; the fetch and the workflow come after. Goal (issue 19): under 100 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from pathlib import Path

from common import ROOT, Row, echo_pipeline, median, percentile, report

PAYLOAD = ROOT / "tests" / "data" / "hooks" / "github" / "push.json"


def run(args: argparse.Namespace) -> list[Row]:
    samples = args.samples or (30 if args.quick else 200)
    with echo_pipeline(args.db) as (bench, body):
        api = bench.api
        started = api.post("/api/v1alpha/plumber-workflows", json=body).json()
        workflow = api.get(f"/api/v1alpha/plumber-workflows/{started['workflow_id']}").json()
        sha = workflow["workflow"]["commit_sha"]
        project = body["project_id"]
        secret = api.post(f"/api/v1alpha/projects/{project}/webhook").json()["secret"]
        payload = json.loads(Path(PAYLOAD).read_text())
        payload["ref"], payload["after"] = "refs/heads/master", sha
        payload["head_commit"]["id"] = sha
        raw = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()

        def answer_times(prefix: str) -> list[float]:
            timings = []
            for index in range(samples):
                headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "push",
                    "X-GitHub-Delivery": f"{prefix}-{index}",
                    "X-Hub-Signature-256": signature,
                }
                began = time.perf_counter()
                answer = api.post(f"/hooks/github/{project}", content=raw, headers=headers)
                timings.append((time.perf_counter() - began) * 1000)
                answer.raise_for_status()
            return timings

        # each one starts a workflow meanwhile (the fetch, the engine, the agent's job)
        starting = answer_times("start")
        api.patch(
            f"/api/v1alpha/projects/{project}",
            json={"spec": {"repository": {"run_on": ["tags"]}}},
        ).raise_for_status()
        # the answer alone: each one is recorded as skipped, nothing runs
        skipped = answer_times("skip")
    rows: list[Row] = [
        ("answer, starting workflows: median", "< 100 ms", median(starting), "ms"),
        ("answer, starting workflows: p95", "< 100 ms", percentile(starting, 0.95), "ms"),
        ("answer, skipped: median", "< 100 ms", median(skipped), "ms"),
        ("answer, skipped: p95", "< 100 ms", percentile(skipped, 0.95), "ms"),
    ]
    return report("hooks", rows, {"samples": samples, "db": args.db})
