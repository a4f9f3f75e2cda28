"""Pipelines end to end: a real server, real agent processes and a git repository."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from blockpost.db.engine import Database
from blockpost.db.models import Job
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
SECRET_VALUE = "e2e-secret-value-never-printed"
DONE_TIMEOUT = 60.0

TOUR = """\
version: v1.0
name: Tour
agent:
  machine:
    type: e1-standard-2
    os_image: ubuntu2004
global_job_config:
  secrets:
    - name: tour-secret
  env_vars:
    - name: GREETING
      value: hello
blocks:
  - name: Build
    dependencies: []
    task:
      jobs:
        - name: checkout
          commands:
            - test -f .tour/key
            - '[ "$(printf %s "$API_KEY" | sha256sum | cut -c1-16)" = "{digest}" ]'
            - checkout
            - test -f marker.txt
            - test "$SEMAPHORE_GIT_SHA" = "$(git rev-parse HEAD)"
            - echo "greeting=$GREETING branch=$SEMAPHORE_GIT_BRANCH"
  - name: Fails
    dependencies: [Build]
    task:
      jobs:
        - name: broken
          commands:
            - "false"
  - name: Never
    dependencies: [Fails]
    task:
      jobs:
        - name: never
          commands: [echo never]
  - name: Grid
    dependencies: [Build]
    task:
      jobs:
        - name: M
          commands: ['echo "grid LANG_V=$LANG_V"']
          matrix:
            - env_var: LANG_V
              values: ["1", "2"]
        - name: P
          parallelism: 2
          commands: ['echo "part $SEMAPHORE_JOB_INDEX of $SEMAPHORE_JOB_COUNT"']
  - name: Skipped
    dependencies: [Build]
    skip:
      when: "branch = 'master'"
    task:
      jobs:
        - name: skipped
          commands: [echo skipped]
after_pipeline:
  task:
    jobs:
      - name: Report
        commands: ['echo "after: $SEMAPHORE_PIPELINE_RESULT"']
"""

SLOW = """\
version: v1.0
name: Slow
agent:
  machine:
    type: {machine}
blocks:
  - name: Sleep
    task:
      jobs:
        - name: sleeper
          commands: [sleep {seconds}]
  - name: Next
    task:
      jobs:
        - name: next
          commands: [echo next]
"""


@dataclass
class Rig:
    server: ServerProcess
    api: httpx.Client
    repo: GitRepo
    project_id: str

    def run(self, reference: str = "refs/heads/master", **extra: str) -> dict[str, str]:
        response = self.api.post(
            f"{API}/plumber-workflows",
            json={"project_id": self.project_id, "reference": reference, **extra},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def describe(self, ppl_id: str) -> dict[str, Any]:
        response = self.api.get(f"{API}/pipelines/{ppl_id}", params={"detailed": "true"})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(self, ppl_id: str, state: str = "done", timeout: float = DONE_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.describe(ppl_id)
            if body["pipeline"]["state"] == state:
                return body
            time.sleep(0.1)
        raise AssertionError(f"pipeline not {state} in {timeout}s: {self.describe(ppl_id)}")

    def wait_job(self, ppl_id: str, name: str, status: str) -> str:
        deadline = time.monotonic() + DONE_TIMEOUT
        while time.monotonic() < deadline:
            for block in self.describe(ppl_id)["blocks"]:
                for job in block["jobs"]:
                    if job["name"] == name and job["status"] == status:
                        return str(job["job_id"])
            time.sleep(0.1)
        logs = [self.log(j["job_id"]) for b in self.describe(ppl_id)["blocks"] for j in b["jobs"]]
        raise AssertionError(f"job {name} never {status}: {self.describe(ppl_id)} {logs}")

    def log(self, job_id: str) -> str:
        return self.api.get(f"/jobs/{job_id}/plain_logs.json").text


def _rig(server: ServerProcess, api: httpx.Client, repo: GitRepo) -> Rig:
    created = api.post(
        f"{API}/projects",
        json={"metadata": {"name": "tour"}, "spec": {"repository": {"url": repo.url}}},
    )
    assert created.status_code == 200, created.text
    return Rig(server, api, repo, created.json()["metadata"]["id"])


@pytest.fixture
def rig(db: Database, database_url: str, tmp_path: Path) -> Iterator[Rig]:
    """A server with two embedded agents (type s1-local, for hosted machine types)."""
    repo = GitRepo(tmp_path / "tour-repo")
    repo.commit({"marker.txt": "x\n"}, "initial")
    server = ServerProcess(
        database_url, tmp_path / "data", extra_env={"BLOCKPOST_AGENTS": "2"}
    ).start()
    try:
        with server.admin_client() as api:
            yield _rig(server, api, repo)
    finally:
        server.stop()


def test_a_pipeline_runs_from_the_repository_on_real_agents(rig: Rig) -> None:
    digest = hashlib.sha256(SECRET_VALUE.encode()).hexdigest()[:16]
    secret = rig.api.post(
        "/api/v1beta/secrets",
        json={
            "metadata": {"name": "tour-secret"},
            "data": {
                "env_vars": [{"name": "API_KEY", "value": SECRET_VALUE}],
                "files": [{"path": ".tour/key", "content": base64.b64encode(b"k").decode()}],
            },
        },
    )
    assert secret.status_code == 200, secret.text
    rig.repo.commit({".semaphore/semaphore.yml": TOUR.replace("{digest}", digest)}, "tour")
    ids = rig.run()
    body = rig.wait(ids["pipeline_id"])
    pipeline = body["pipeline"]
    assert (pipeline["result"], pipeline["result_reason"]) == ("failed", "test"), body
    blocks = {b["name"]: (b["result"], b["result_reason"]) for b in body["blocks"]}
    assert blocks == {
        "Build": ("passed", "test"),
        "Fails": ("failed", "test"),
        "Never": ("canceled", "test"),
        "Grid": ("passed", "test"),
        "Skipped": ("passed", "skipped"),
    }
    jobs = {j["name"]: j for b in body["blocks"] for j in b["jobs"]}
    assert set(jobs) == {
        "checkout",
        "broken",
        "M - LANG_V=1",
        "M - LANG_V=2",
        "P - 1/2",
        "P - 2/2",
    }
    assert "greeting=hello branch=master" in rig.log(jobs["checkout"]["job_id"])
    assert "grid LANG_V=2" in rig.log(jobs["M - LANG_V=2"]["job_id"])
    assert "part 2 of 2" in rig.log(jobs["P - 2/2"]["job_id"])
    described = rig.api.get(f"{API}/jobs/{jobs['checkout']['job_id']}").text
    assert SECRET_VALUE not in described
    # the after_pipeline job runs once the pipeline is done, with its result
    deadline = time.monotonic() + DONE_TIMEOUT
    while "after: failed" not in _after_log(rig, ids["pipeline_id"]):
        assert time.monotonic() < deadline, "the after_pipeline job did not run"
        time.sleep(0.2)
    assert SECRET_VALUE not in rig.server.output()


def _after_log(rig: Rig, ppl_id: str) -> str:
    """The after_pipeline job belongs to no block, so the API lists it nowhere: ask the
    database for its id, then read its log through the API."""

    async def find() -> str | None:
        db = Database(rig.server.database_url)
        try:
            async with db.session() as session:
                return await session.scalar(
                    select(Job.id).where(Job.pipeline_id == ppl_id, Job.block_id.is_(None))
                )
        finally:
            await db.dispose()

    job_id = asyncio.run(find())
    return rig.log(job_id) if job_id else ""


PULL_REQUEST = """\
version: v1.0
name: PR
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Check
    task:
      jobs:
        - name: merged
          commands:
            - checkout
            - test "$(git rev-parse HEAD)" = "$SEMAPHORE_GIT_SHA"
            - test -f feature.txt
            - echo "pr=$SEMAPHORE_GIT_PR_NUMBER base=$SEMAPHORE_GIT_BRANCH"
            - echo "head=$SEMAPHORE_GIT_WORKING_BRANCH"
"""


def test_checkout_in_a_pull_request_job_gets_the_test_merge(rig: Rig) -> None:
    base = rig.repo.commit({".semaphore/semaphore.yml": PULL_REQUEST}, "pipeline")
    rig.repo.checkout("feature", new=True)
    head = rig.repo.commit({"feature.txt": "new\n"}, "feature")
    rig.repo.checkout("master")
    merge = rig.repo.git("commit-tree", f"{head}^{{tree}}", "-p", base, "-p", head, "-m", "Merge")
    rig.repo.git("update-ref", "refs/pull/7/head", head)
    rig.repo.git("update-ref", "refs/pull/7/merge", merge)
    body = rig.wait(rig.run("refs/pull/7")["pipeline_id"])
    (job,) = body["blocks"][0]["jobs"]
    log = rig.log(job["job_id"])
    assert body["pipeline"]["result"] == "passed", log
    assert "\npr=7 base=master\n" in log
    assert "\nhead=feature\n" in log


def test_terminate_and_fail_fast_stop_running_jobs_quickly(rig: Rig) -> None:
    rig.repo.commit(
        {".semaphore/semaphore.yml": SLOW.format(machine="e1-standard-2", seconds=60)}, "slow"
    )
    ids = rig.run()
    rig.wait_job(ids["pipeline_id"], "sleeper", "RUNNING")
    started = time.monotonic()
    patched = rig.api.patch(
        f"{API}/pipelines/{ids['pipeline_id']}", json={"terminate_request": True}
    )
    assert patched.status_code == 200
    body = rig.wait(ids["pipeline_id"], timeout=20)
    assert time.monotonic() - started < 15
    assert (body["pipeline"]["result"], body["pipeline"]["result_reason"]) == ("stopped", "user")
    assert [b["result"] for b in body["blocks"]] == ["stopped", "canceled"]

    fail_fast = (
        "version: v1.0\nname: FF\nagent:\n  machine:\n    type: e1-standard-2\n"
        "fail_fast:\n  stop:\n    when: true\n"
        "blocks:\n  - name: Both\n    task:\n      jobs:\n"
        "        - name: bad\n          commands: ['sleep 1', 'false']\n"
        "        - name: slow\n          commands: [sleep 60]\n"
    )
    rig.repo.commit({".semaphore/semaphore.yml": fail_fast}, "fail fast")
    started = time.monotonic()
    body = rig.wait(rig.run()["pipeline_id"], timeout=30)
    assert time.monotonic() - started < 20
    assert (body["pipeline"]["result"], body["pipeline"]["result_reason"]) == (
        "stopped",
        "fast_failing",
    )
    results = {j["name"]: j["result"] for j in body["blocks"][0]["jobs"]}
    assert results == {"bad": "FAILED", "slow": "STOPPED"}


def test_a_serialized_queue_runs_one_pipeline_at_a_time(rig: Rig) -> None:
    rig.repo.commit(
        {".semaphore/semaphore.yml": SLOW.format(machine="e1-standard-2", seconds=1)}, "quick"
    )
    first, second = rig.run(), rig.run()
    rig.wait(second["pipeline_id"])
    listed = rig.api.get(f"{API}/pipelines", params={"project_id": rig.project_id}).json()
    rows = {row["ppl_id"]: row for row in listed}

    def nanos(stamp: dict[str, int]) -> int:
        return stamp["seconds"] * 10**9 + stamp["nanos"]

    one, two = rows[first["pipeline_id"]], rows[second["pipeline_id"]]
    assert one["result"] == two["result"] == "PASSED"
    assert nanos(two["running_at"]) >= nanos(one["done_at"])


def test_malformed_yaml_and_unknown_refs_on_a_real_server(rig: Rig) -> None:
    rig.repo.commit({".semaphore/semaphore.yml": "version: v1.0\nblocks: []\n"}, "broken")
    body = rig.wait(rig.run()["pipeline_id"])
    assert (body["pipeline"]["result"], body["pipeline"]["result_reason"]) == (
        "failed",
        "malformed",
    )
    assert body["pipeline"]["error_description"]
    unknown = rig.api.post(
        f"{API}/plumber-workflows",
        json={"project_id": rig.project_id, "reference": "refs/heads/no-such-branch"},
    )
    assert unknown.status_code == 400
    assert "refs/heads/no-such-branch" in unknown.json()["message"]


def test_a_pipeline_continues_across_a_server_restart(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "restart-repo")
    repo.commit({".semaphore/semaphore.yml": SLOW.format(machine="s1-e2e", seconds=3)})
    server = ServerProcess(database_url, tmp_path / "data").start()
    agent: subprocess.Popen[str] | None = None
    try:
        with server.admin_client() as api:
            rig = _rig(server, api, repo)
            created = api.post(
                f"{API}/self_hosted_agent_types", json={"metadata": {"name": "s1-e2e"}}
            )
            token = created.json()["status"]["registration_token"]
            agent = subprocess.Popen(
                [sys.executable, "-m", "blockpost", "agent", "--url", server.url,
                 "--token", token, "--workdir", str(tmp_path / "agent-home")],
                stdout=(tmp_path / "agent.log").open("w"),
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            ids = rig.run()
            rig.wait_job(ids["pipeline_id"], "sleeper", "RUNNING")
        server.stop()
        server.start()  # same database, data dir and port; the agent keeps its job
        with server.admin_client() as api:
            rig.api = api
            body = rig.wait(ids["pipeline_id"])
            assert (body["pipeline"]["result"], body["pipeline"]["result_reason"]) == (
                "passed",
                "test",
            ), body
            jobs = [j for b in body["blocks"] for j in b["jobs"]]
            assert [(j["name"], j["result"]) for j in jobs] == [
                ("sleeper", "PASSED"),
                ("next", "PASSED"),
            ]
            assert rig.log(jobs[1]["job_id"]).count("echo next") == 1
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(timeout=15)
        server.stop()
