"""Benchmark: artifact push and pull of one large file through the local store, as
Semaphore's artifact CLI does them (hub request, then the signed URL), and the server's
memory while the bytes pass.
Goals (issue 18): >= 100 MB/s each way on loopback; server RSS growth < 50 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from agents_idle import rss_mb
from common import Row, report, running_server
from fake_agents import FakeAgent, job_body

CHUNK = 1024 * 1024


def artifact_env(bench) -> dict[str, str]:
    """A running job's env (a fake agent takes a standalone job of the bench project)."""

    async def take() -> dict[str, str]:
        agent = FakeAgent(bench.server.url, bench.registration_token, "artifacts")
        await agent.register()
        bench.api.post("/api/v1alpha/jobs", json=job_body(bench.project_id)).raise_for_status()
        answer = await agent.sync("waiting-for-jobs")
        payload = await agent.job(answer["job_id"])
        return {e["name"]: base64.b64decode(e["value"]).decode() for e in payload["env_vars"]}

    return asyncio.run(take())


class PeakRss:
    """Samples the server's RSS every 10 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = rss_mb(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def signed(client: httpx.Client, env: dict[str, str], key: str, kind: int) -> list[dict]:
    body = json.dumps({"paths": [key], **({"type": kind} if kind else {})}) + "\n"
    answer = client.post(
        "/api/v1/artifacts",
        content=body,
        headers={"authorization": env["SEMAPHORE_ARTIFACT_TOKEN"]},
    )
    answer.raise_for_status()
    return answer.json()["urls"]


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while data := handle.read(CHUNK):
            yield data


def transfer(bench, megabytes: int) -> dict[str, float]:
    env = artifact_env(bench)
    key = f"artifacts/projects/{env['SEMAPHORE_PROJECT_ID']}/bench/big.bin"
    pid = bench.server.process.pid
    with tempfile.TemporaryDirectory(prefix="blockpost-artifacts-") as tmp:
        source, target = Path(tmp) / "big.bin", Path(tmp) / "pulled.bin"
        with source.open("wb") as handle:
            block = bytes(range(256)) * (CHUNK // 256)
            for _ in range(megabytes):
                handle.write(block)
        size = source.stat().st_size
        with httpx.Client(base_url=bench.server.url, timeout=300) as client:
            head, put = signed(client, env, key, 0)
            assert client.head(head["url"]).status_code == 404
            with PeakRss(pid) as push_rss:
                started = time.perf_counter()
                client.put(
                    put["url"], content=chunks(source), headers={"content-length": str(size)}
                ).raise_for_status()
                push_seconds = time.perf_counter() - started
            [get] = signed(client, env, key, 2)
            with PeakRss(pid) as pull_rss:
                started = time.perf_counter()
                with client.stream("GET", get["url"]) as response, target.open("wb") as out:
                    response.raise_for_status()
                    for data in response.iter_bytes(CHUNK):
                        out.write(data)
                pull_seconds = time.perf_counter() - started
        assert target.stat().st_size == size
    return {
        "push_mb_s": size / push_seconds / 1e6,
        "pull_mb_s": size / pull_seconds / 1e6,
        "push_rss_growth_mb": push_rss.peak - push_rss.base,
        "pull_rss_growth_mb": pull_rss.peak - pull_rss.base,
    }


def run(args: argparse.Namespace) -> list[Row]:
    megabytes = 20 if args.quick else 200
    with running_server(args.db) as bench:
        got = transfer(bench, megabytes)
    return report(
        "artifacts",
        [
            (f"push of {megabytes} MB (local store)", ">= 100", got["push_mb_s"], "MB/s"),
            (f"pull of {megabytes} MB (local store)", ">= 100", got["pull_mb_s"], "MB/s"),
            ("server RSS growth during the push", "< 50", got["push_rss_growth_mb"], "MB"),
            ("server RSS growth during the pull", "< 50", got["pull_rss_growth_mb"], "MB"),
        ],
        {"megabytes": megabytes, **got},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", default="sqlite")
    run(parser.parse_args())
