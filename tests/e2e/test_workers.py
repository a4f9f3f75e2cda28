"""`serve --workers N`: HTTP worker processes beside the one that runs the background loops
and the embedded agents (PostgreSQL only)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
ON_POSTGRESQL = "postgresql" in (os.environ.get("BLOCKPOST_DATABASE_URL") or "")
ECHO = """\
version: v1.0
name: Echo
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Echo
    task:
      jobs:
        - name: echo
          commands:
            - echo "ran on the embedded agent"
"""


def forked_workers(pid: int) -> list[int]:
    """The children of `pid` that are forks of it (the same command line; an embedded agent
    is a program of its own)."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
                same = (proc / "cmdline").read_bytes() == command
            except OSError:
                continue
            if same and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(proc.name))
    return found


def test_more_than_one_worker_on_sqlite_is_refused_with_the_reason(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BLOCKPOST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'one.db'}",
        "BLOCKPOST_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "blockpost", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--workers 2 (BLOCKPOST_WORKERS) needs PostgreSQL" in done.stderr


@pytest.mark.skipif(not ON_POSTGRESQL, reason="more than one worker needs PostgreSQL")
def test_two_workers_run_workflows_with_one_embedded_agent_and_stop_together(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({".semaphore/semaphore.yml": ECHO})
    server = ServerProcess(
        database_url,
        tmp_path / "data",
        extra_env={"BLOCKPOST_WORKERS": "2", "BLOCKPOST_AGENTS": "1"},
    ).start()
    assert server.process is not None
    try:
        workers = forked_workers(server.process.pid)
        assert len(workers) == 1, "one forked HTTP worker beside the first process"
        with server.admin_client() as api:
            project = api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "workers"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            pipelines = [
                api.post(
                    "/api/v1alpha/plumber-workflows",
                    json={"project_id": project, "reference": "refs/heads/master"},
                ).json()["pipeline_id"]
                for _ in range(4)
            ]
            deadline = time.monotonic() + 60
            for ppl in pipelines:
                while (state := api.get(f"/api/v1alpha/pipelines/{ppl}").json()["pipeline"])[
                    "state"
                ] != "done":
                    assert time.monotonic() < deadline, state
                    time.sleep(0.1)
                assert state["result"] == "passed", state
            # Connections of their own land on either worker: both serve the API.
            for _ in range(10):
                with httpx.Client(base_url=server.url, headers=api.headers) as fresh:
                    assert fresh.get(f"/api/v1alpha/pipelines/{pipelines[0]}").status_code == 200
            listed = api.get("/api/v1alpha/agents").json()
            assert len(listed["agents"]) == 1, "the embedded agents run in the first process only"
    finally:
        server.stop()
    assert server.process.returncode == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "the worker ended too"
