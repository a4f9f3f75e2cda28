"""Webhooks end to end: a real server with an embedded agent; a signed GitHub push (the
published sample payload) is answered at once and its workflow runs the pushed commit."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
PAYLOAD = Path(__file__).parent.parent / "data" / "hooks" / "github" / "push.json"
PIPELINE = """\
version: v1.0
name: Hooked
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Check
    task:
      jobs:
        - name: check
          commands:
            - test "$SEMAPHORE_WORKFLOW_TRIGGERED_BY_HOOK" = true
            - checkout
            - test "$(git rev-parse HEAD)" = "$SEMAPHORE_GIT_SHA"
            - test -f pushed.txt
"""


@pytest.fixture
def server(db: Database, database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    started = ServerProcess(
        database_url, tmp_path / "data", extra_env={"BLOCKPOST_AGENTS": "1"}
    ).start()
    try:
        yield started
    finally:
        started.stop()


def test_a_signed_push_runs_the_pushed_commit_on_a_real_agent(
    server: ServerProcess, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({".semaphore/semaphore.yml": PIPELINE}, "pipeline")
    with server.admin_client() as api:
        created = api.post(
            f"{API}/projects",
            json={"metadata": {"name": "hooked"}, "spec": {"repository": {"url": repo.url}}},
        )
        assert created.status_code == 200, created.text
        project = created.json()["metadata"]["id"]
        secret = api.post(f"{API}/projects/{project}/webhook").json()["secret"]
        sha = repo.commit({"pushed.txt": "x"}, "The pushed commit")
        payload = json.loads(PAYLOAD.read_text())
        payload["ref"], payload["after"] = "refs/heads/master", sha
        payload["head_commit"]["id"] = sha
        body = json.dumps(payload).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "e2e-1",
            "X-Hub-Signature-256": f"sha256={signature}",
        }
        answer = httpx.post(f"{server.url}/hooks/github/{project}", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "accepted"
        deadline = time.monotonic() + 60
        result = None
        while time.monotonic() < deadline:
            listed = api.get(f"{API}/projects/{project}/hook_deliveries").json()
            workflow_id = listed[0]["workflow_id"]
            if workflow_id:
                described = api.get(f"{API}/plumber-workflows/{workflow_id}").json()
                pipeline = api.get(
                    f"{API}/pipelines/{described['workflow']['initial_ppl_id']}"
                ).json()["pipeline"]
                if pipeline["state"] == "done":
                    result = pipeline["result"]
                    break
            time.sleep(0.2)
        assert listed[0]["state"] == "started", listed[0]
        assert described["workflow"]["commit_sha"] == sha
        assert result == "passed", server.output()
