"""Benchmark: `cache store` and `cache restore` of 10,000 small files, run as a job runs them
(blockpost's toolbox command against a real server and its local store), with zstd when this
machine has it and with gzip.
Goal (issue 18): a restore of 10,000 small files in < 2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from artifacts import artifact_env
from common import Row, report, running_server

from blockpost.agent.workspace import TOOLBOX

RUN = TOOLBOX / "run.py"


def tools(where: Path, *names: str) -> str:
    """A directory for PATH with these tools and the interpreter running this benchmark as
    `python3` (the one on PATH may be a pyenv shim, or older than the toolbox needs)."""
    where.mkdir()
    for tool in names:
        found = shutil.which(tool)
        assert found, f"{tool} is needed on PATH"
        (where / tool).symlink_to(found)
    (where / "python3").symlink_to(os.path.realpath(sys.executable))
    return str(where)


def cache(env: dict[str, str], cwd: Path, *arguments: str) -> float:
    """Runs `cache ARGUMENTS…` as a job would; its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        ["python3", "-I", str(RUN), "cache", *arguments],
        cwd=cwd,
        env={**env, "CACHE_FAIL_ON_ERROR": "true"},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error:" not in done.stdout, done.stdout
    return elapsed


def round_trip(job: dict[str, str], files: int, compression: str, tmp: Path) -> dict[str, float]:
    work = tmp / compression
    tree = work / "deps"
    for index in range(files):
        folder = tree / f"d{index // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:05d}.txt").write_text(f"file {index}\n" * 3)
    key = f"bench-{compression}-{files}"
    store_seconds = cache(job, work, "store", key, "deps")
    shutil.rmtree(tree)
    restore_seconds = cache(job, work, "restore", key)
    restored = sum(len(names) for _, _, names in os.walk(tree))
    assert restored == files, f"restored {restored} of {files} files"
    return {"store_s": store_seconds, "restore_s": restore_seconds}


def plain_tar(tmp: Path) -> float:
    """`tar -x` alone of the same tree from a local file: what the filesystem costs."""
    work = tmp / "gzip"
    subprocess.run(["tar", "-czf", str(tmp / "plain.tgz"), "deps"], cwd=work, check=True)
    shutil.rmtree(work / "deps")
    started = time.perf_counter()
    subprocess.run(["tar", "-xzf", str(tmp / "plain.tgz")], cwd=work, check=True)
    return time.perf_counter() - started


def measure(bench, files: int) -> dict[str, dict[str, float]]:
    env = artifact_env(bench)
    job = {
        "HOME": os.environ.get("HOME", "/tmp"),
        "SEMAPHORE_ARTIFACT_TOKEN": env["SEMAPHORE_ARTIFACT_TOKEN"],
        "SEMAPHORE_ORGANIZATION_URL": bench.server.url,
    }
    got = {}
    with tempfile.TemporaryDirectory(prefix="blockpost-cache-") as tmp:
        if shutil.which("zstd"):
            zstd_job = {**job, "PATH": tools(Path(tmp) / "bin", "tar", "gzip", "zstd")}
            got["zstd"] = round_trip(zstd_job, files, "zstd", Path(tmp))
        # no zstd on PATH: the command falls back to gzip
        gzip_job = {**job, "PATH": tools(Path(tmp) / "bin-gzip", "tar", "gzip")}
        got["gzip"] = round_trip(gzip_job, files, "gzip", Path(tmp))
        got["plain"] = {"restore_s": plain_tar(Path(tmp))}
    return got


def run(args: argparse.Namespace) -> list[Row]:
    files = 2_000 if args.quick else 10_000
    with running_server(args.db) as bench:
        got = measure(bench, files)
    rows: list[Row] = []
    plain = got.pop("plain")
    for compression, times in got.items():
        rows += [
            (f"store of {files:,} small files ({compression})", "-", times["store_s"], "s"),
            (f"restore of {files:,} small files ({compression})", "< 2", times["restore_s"], "s"),
        ]
    rows.append((f"plain tar -xzf of the same {files:,} files", "-", plain["restore_s"], "s"))
    extra = {"files": files, "python": sys.version.split()[0], "plain_tar": plain, **got}
    return report("cache", rows, extra)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", default="sqlite")
    run(parser.parse_args())
