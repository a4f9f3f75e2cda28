"""Commit statuses end to end: a real server, configured by its settings to post GitLab
statuses to a fake forge on 127.0.0.1, runs a pipeline on its embedded agent and reports
it to the commit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from blockpost.db.engine import Database
from tests.support.fake_forge import running_forge
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
TOKEN = "glpat-e2e-never-shown"
PIPELINE = """version: v1.0
name: Checks
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Unit
    task:
      jobs:
        - name: unit
          commands:
            - echo ok
"""


def test_a_server_reports_a_pipeline_to_the_forge_its_settings_name(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "team" / "widgets")
    sha = repo.commit({".semaphore/semaphore.yml": PIPELINE}, "first")
    with running_forge() as forge:
        server = ServerProcess(
            database_url,
            tmp_path / "data",
            extra_env={
                "BLOCKPOST_AGENTS": "1",
                "BLOCKPOST_GITLAB_API_URL": forge.root("gitlab"),
                "BLOCKPOST_PUBLIC_URL": "https://ci.example.com",
            },
        ).start()
        try:
            with server.admin_client() as api:
                repository = {"url": repo.url, "integration_type": "gitlab", "status_token": TOKEN}
                created = api.post(
                    f"{API}/projects",
                    json={"metadata": {"name": "widgets"}, "spec": {"repository": repository}},
                )
                assert created.status_code == 200, created.text
                project_id = created.json()["metadata"]["id"]
                started = api.post(
                    f"{API}/plumber-workflows",
                    json={"project_id": project_id, "reference": "refs/heads/master"},
                )
                assert started.status_code == 200, started.text
                ppl = started.json()["pipeline_id"]
                deadline = time.monotonic() + 60
                while not any(p.body["state"] == "success" for p in forge.posts):
                    assert time.monotonic() < deadline, (forge.posts, server.output()[-2000:])
                    time.sleep(0.2)
                log = api.get(f"{API}/projects/widgets/status_deliveries").json()["deliveries"]
        finally:
            server.stop()
    # the pending may have been superseded unsent if the job was quicker than the sender
    *early, last = forge.posts
    assert [p.body["state"] for p in early] in ([], ["pending"])
    assert (last.provider, last.repo, last.sha) == ("gitlab", "team/widgets", sha)
    assert last.headers["authorization"] == f"Bearer {TOKEN}"
    assert last.body == {
        "state": "success",
        "name": "ci/semaphoreci/push: Checks",
        "target_url": f"https://ci.example.com/api/v1alpha/pipelines/{ppl}",
        "description": "The build passed on blockpost.",
    }
    assert (log[0]["status"], log[0]["state"]) == ("success", "delivered")
    assert TOKEN not in server.output()
