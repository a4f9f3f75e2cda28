"""`blockpost backup` of a running server (a job mid-run on a real agent) restored elsewhere:
the new server answers with every secret, the log written so far and the artifacts."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import BASE_DATABASE_URL
from tests.support.databases import fresh_database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

API = "/api/v1alpha"
GLOBAL_SECRET = "global-value-4f1e"
PROJECT_SECRET = "project-value-9a2c"
FILE_CONTENT = b"file-content-77b0\n"
PIPELINE = """\
version: v1.0
name: Backed up
agent:
  machine:
    type: s1-local
blocks:
  - name: Long
    task:
      jobs:
        - name: long
          commands:
            - echo built > built.txt
            - artifact push workflow built.txt
            - for i in $(seq 1 60); do echo "tick-$i"; sleep 0.25; done
"""


def blockpost(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blockpost", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def database(label: str, tmp_path: Path) -> Iterator[str]:
    """An empty database: on SQLite "" (the data dir's own file), else a fresh one."""
    if not BASE_DATABASE_URL or BASE_DATABASE_URL.startswith("sqlite"):
        yield ""
        return
    with fresh_database(BASE_DATABASE_URL, tmp_path, label) as url:
        yield url


def wait_for(check: httpx.Client, url: str, text: str) -> None:
    deadline = time.monotonic() + 60
    while text not in check.get(url).text:
        assert time.monotonic() < deadline, f"{text!r} never appeared at {url}"
        time.sleep(0.2)


def make_state(api: httpx.Client, repo: GitRepo) -> dict[str, str]:
    """A project with a secret of its own, a global secret, and a pipeline running."""
    project = api.post(
        f"{API}/projects",
        json={"metadata": {"name": "kept"}, "spec": {"repository": {"url": repo.url}}},
    )
    assert project.status_code == 200, project.text
    project_id = project.json()["metadata"]["id"]
    content = base64.b64encode(FILE_CONTENT).decode()
    made = api.post(
        "/api/v1beta/secrets",
        json={
            "metadata": {"name": "shared"},
            "data": {
                "env_vars": [{"name": "SHARED_TOKEN", "value": GLOBAL_SECRET}],
                "files": [{"path": ".config/key", "content": content}],
            },
        },
    )
    assert made.status_code == 200, made.text
    made = api.post(
        f"/api/v1/projects/{project_id}/secrets",
        json={
            "metadata": {"name": "own"},
            "data": {"env_vars": [{"name": "OWN_TOKEN", "value": PROJECT_SECRET}]},
        },
    )
    assert made.status_code == 200, made.text
    run = api.post(
        f"{API}/plumber-workflows",
        json={"project_id": project_id, "reference": "refs/heads/master"},
    )
    assert run.status_code == 200, run.text
    return {"project": project_id, **run.json()}


def job_id(api: httpx.Client, pipeline_id: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        body = api.get(f"{API}/pipelines/{pipeline_id}", params={"detailed": "true"}).json()
        jobs = [job for block in body["blocks"] for job in block["jobs"]]
        if jobs and jobs[0]["status"] == "RUNNING":
            return str(jobs[0]["job_id"])
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_a_backup_of_a_running_server_restores_its_secrets_logs_and_artifacts(
    tmp_path: Path,
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({".semaphore/semaphore.yml": PIPELINE})
    archive = tmp_path / "backup.tar.gz"
    with database("source", tmp_path) as source_url, database("target", tmp_path) as target_url:
        source = ServerProcess(
            source_url,
            tmp_path / "source",
            extra_env={"BLOCKPOST_AGENTS": "1", "BLOCKPOST_EMBEDDED_AGENT_USERS": "all"},
        ).start()
        try:
            with source.admin_client() as api:
                state = make_state(api, repo)
                job = job_id(api, state["pipeline_id"])
                wait_for(api, f"/jobs/{job}/plain_logs.json", "tick-3")
                made = blockpost(
                    "backup",
                    str(archive),
                    "--with-artifacts",
                    env={
                        "BLOCKPOST_DATA_DIR": str(source.data_dir),
                        "BLOCKPOST_DATABASE_URL": source_url,
                    },
                )
                assert made.returncode == 0, made.stderr
                logged_then = api.get(f"/jobs/{job}/plain_logs.json").text
                states = api.get(f"{API}/pipelines/{state['pipeline_id']}").json()
                assert states["pipeline"]["state"] == "running"  # the backup was mid-run
                # Stopped, so that the server need not wait for the job to shut down.
                api.patch(
                    f"{API}/pipelines/{state['pipeline_id']}", json={"terminate_request": True}
                )
        finally:
            source.stop()

        # The server's own log, as an operator reads it: its events, and no secret.
        served = source.output()
        assert "event=login.succeeded user=admin address=127.0.0.1" in served
        assert "event=workflow.started" in served
        assert " by=admin ref=refs/heads/master " in served
        assert "event=agent.registered" in served
        assert GLOBAL_SECRET not in served
        assert PROJECT_SECRET not in served
        # The banner shows a password it made on first start; no event line ever does.
        events = "\n".join(line for line in served.splitlines() if "event=" in line)
        assert source.admin_password not in events

        assert "backup written to" in made.stdout
        assert "copying the SQLite" in made.stderr or "pg_dump" in made.stderr
        assert archive.stat().st_mode & 0o077 == 0  # it holds the secret key
        with tarfile.open(archive) as tar:
            names = tar.getnames()
        assert any(name.startswith("store/artifacts/workflows/") for name in names), names
        assert GLOBAL_SECRET.encode() not in archive.read_bytes()  # sealed in the database

        target_env = {
            "BLOCKPOST_DATA_DIR": str(tmp_path / "restored"),
            "BLOCKPOST_DATABASE_URL": target_url,
        }
        restored = blockpost("restore", str(archive), env=target_env)
        assert restored.returncode == 0, restored.stderr
        assert "upgrading the schema" in restored.stderr

        server = ServerProcess(target_url, tmp_path / "restored").start()
        try:
            with server.admin_client() as api:
                shared = api.get("/api/v1beta/secrets/shared").json()
                assert shared["data"]["env_vars"] == [
                    {"name": "SHARED_TOKEN", "value": GLOBAL_SECRET}
                ]
                assert base64.b64decode(shared["data"]["files"][0]["content"]) == FILE_CONTENT
                own = api.get(f"/api/v1/projects/{state['project']}/secrets/own").json()
                assert own["data"]["env_vars"] == [{"name": "OWN_TOKEN", "value": PROJECT_SECRET}]
                log = api.get(f"/jobs/{job}/plain_logs.json").text
                assert "tick-3" in log
                # The backup may have caught the job mid-line ("tic"): whole lines are all
                # in the log read after it, the last one at least begins one of them.
                *whole, last = log.splitlines()
                later = logged_then.splitlines()
                assert set(whole) <= set(later)
                assert any(line.startswith(last) for line in later), (last, later)
                listed = api.get(
                    f"{API}/artifacts", params={"scope": "workflow", "id": state["workflow_id"]}
                ).json()
                assert [item["name"] for item in listed["artifacts"]] == ["built.txt"]
        finally:
            server.stop()
