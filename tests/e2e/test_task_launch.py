"""The token guide's task launch, with curl as the guide writes it, against a real server."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from blockpost.db.engine import Database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
PIPELINE = """\
version: v1.0
name: Task
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Run
    task:
      jobs:
        - name: run
          commands:
            - echo "task run with $DEPLOY_ENV"
"""
SCHEDULE = """\
apiVersion: v1.0
kind: Schedule
metadata:
  name: deploy
spec:
  project: app
  branch: master
  at: "0 2 * * *"
  paused: true
  parameters:
    - name: DEPLOY_ENV
      value: staging
"""


def curl(*args: str) -> tuple[int, str]:
    """Runs curl; returns the HTTP status and the body."""
    done = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, check=True
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def test_the_guides_curl_task_launch_runs_a_template(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "app")
    repo.commit({".semaphore/semaphore.yml": PIPELINE})
    server = ServerProcess(
        database_url,
        tmp_path / "data",
        admin_password="slashy\\pass",
        extra_env={"BLOCKPOST_AGENTS": "1"},
    ).start()
    cookie = str(tmp_path / "semaphore-cookie")
    url = server.url
    try:
        status, _ = curl(
            "-c", cookie, "-XPOST",
            "-H", "Content-Type: application/json", "-H", "Accept: application/json",
            "-d", '{"auth": "admin", "password": "slashy\\\\pass"}',
            f"{url}/api/auth/login",
        )  # fmt: skip
        assert status == 204
        status, body = curl(
            "-b", cookie, "-XPOST",
            "-H", "Content-Type: application/json", "-H", "Accept: application/json",
            f"{url}/api/user/tokens",
        )  # fmt: skip
        assert status == 201, body
        token = json.loads(body)["id"]
        bearer = ["-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json"]
        project = {"metadata": {"name": "app"}, "spec": {"repository": {"url": repo.url}}}
        status, body = curl(
            *bearer, "-XPOST", f"{url}/api/v1alpha/projects", "-d", json.dumps(project)
        )
        assert status == 200, body
        status, body = curl(
            *bearer, "-XPOST", f"{url}/api/v1alpha/schedules",
            "-d", json.dumps({"yml_definition": SCHEDULE}),
        )  # fmt: skip
        assert status == 200, body

        status, body = curl(
            "-v", "-XPOST",
            "-H", "Content-Type: application/json",
            "-H", "Accept: application/json",
            "-H", f"Authorization: Bearer {token}",
            "-d", '{"template_id": 1}',
            f"{url}/api/project/1/tasks",
        )  # fmt: skip
        assert status == 201, body
        task = json.loads(body)
        assert (task["template_id"], task["project_id"]) == (1, 1)
        deadline = time.monotonic() + 60
        while task["status"] not in {"success", "error", "stopped"}:
            assert time.monotonic() < deadline, task
            time.sleep(0.2)
            status, body = curl(*bearer, f"{url}/api/project/1/tasks/{task['id']}")
            task = json.loads(body)
        assert task["status"] == "success", task
        status, body = curl(*bearer, f"{url}/api/v1alpha/pipelines?project_id=app")
        (pipeline,) = json.loads(body)
        status, body = curl(
            *bearer, f"{url}/api/v1alpha/pipelines/{pipeline['ppl_id']}?detailed=true"
        )
        job_id = json.loads(body)["blocks"][0]["jobs"][0]["job_id"]
        status, log = curl(*bearer, f"{url}/jobs/{job_id}/plain_logs.json")
        assert "task run with staging" in log
    finally:
        server.stop()
