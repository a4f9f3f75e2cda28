"""Promotions end to end: a real server and agent run a build, its automatic promotion and a
manual promotion through a deployment target whose secret reaches the job and nothing else."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path

import pytest

from blockpost.db.engine import Database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
SECRET = "deploy-key-that-must-not-leak"
HEAD = "version: v1.0\nname: {name}\nagent:\n  machine:\n    type: e1-standard-2\n"
BUILD = (
    HEAD.format(name="Build")
    + """\
blocks:
  - name: Build
    task:
      jobs:
        - name: build
          commands: [echo built]
promotions:
  - name: Staging
    pipeline_file: staging.yml
    auto_promote:
      when: "result = 'passed'"
  - name: Production
    pipeline_file: production.yml
    deployment_target: production
    parameters:
      env_vars:
        - name: REGION
          required: true
          options: [eu, us]
"""
)
STAGING = (
    HEAD.format(name="Staging")
    + """\
blocks:
  - name: Stage
    task:
      jobs:
        - name: stage
          commands: ['echo "staging $SEMAPHORE_PIPELINE_PROMOTED_BY"']
"""
)
PRODUCTION = (
    HEAD.format(name="Production")
    + """\
blocks:
  - name: Deploy
    task:
      jobs:
        - name: deploy
          commands:
            - '[ "$(printf %s "$DEPLOY_KEY" | sha256sum | cut -c1-16)" = "{digest}" ]'
            - 'echo "deploying to $REGION"'
"""
)


def test_build_promotes_itself_to_staging_and_by_hand_to_production(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    digest = hashlib.sha256(SECRET.encode()).hexdigest()[:16]
    repo = GitRepo(tmp_path / "app")
    repo.commit(
        {
            ".semaphore/semaphore.yml": BUILD,
            ".semaphore/staging.yml": STAGING,
            ".semaphore/production.yml": PRODUCTION.replace("{digest}", digest),
        }
    )
    server = ServerProcess(database_url, tmp_path / "data", extra_env={"BLOCKPOST_AGENTS": "1"})
    server.start()
    try:
        with server.admin_client() as api:
            project = api.post(
                f"{API}/projects",
                json={"metadata": {"name": "app"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            target = api.post(
                f"{API}/deployment_targets",
                params={"project_id": project},
                json={
                    "name": "production",
                    "unique_token": "create-production",
                    "object_rules": [
                        {"type": "BRANCH", "match_mode": "EXACT", "pattern": "master"}
                    ],
                    "env_vars": [{"name": "DEPLOY_KEY", "value": SECRET}],
                    "files": [{"path": "key.pem", "content": base64.b64encode(b"pem").decode()}],
                },
            ).json()
            build = api.post(
                f"{API}/plumber-workflows",
                json={"project_id": project, "reference": "refs/heads/master"},
            ).json()

            def done(ppl: str) -> dict:
                deadline = time.monotonic() + 60
                while True:
                    body = api.get(f"{API}/pipelines/{ppl}", params={"detailed": "true"}).json()
                    if body["pipeline"]["state"] == "done":
                        return body
                    assert time.monotonic() < deadline, body
                    time.sleep(0.1)

            assert done(build["pipeline_id"])["pipeline"]["result"] == "passed"
            deadline = time.monotonic() + 30
            while not (
                promos := api.get(
                    f"{API}/promotions", params={"pipeline_id": build["pipeline_id"]}
                ).json()
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            (staging,) = promos
            assert staging["triggered_by"] == "Pipeline Done request"
            assert done(staging["scheduled_pipeline_id"])["pipeline"]["result"] == "passed"

            promoted = api.post(
                f"{API}/promotions",
                data={"pipeline_id": build["pipeline_id"], "name": "Production", "REGION": "eu"},
            )
            assert promoted.json() == "Promotion successfully triggered.", promoted.text
            promos = api.get(f"{API}/promotions", params={"pipeline_id": build["pipeline_id"]})
            (deploy,) = [p for p in promos.json() if p["name"] == "Production"]
            production = done(deploy["scheduled_pipeline_id"])
            assert production["pipeline"]["result"] == "passed", production
            job_id = production["blocks"][0]["jobs"][0]["job_id"]
            assert "deploying to eu" in api.get(f"/jobs/{job_id}/plain_logs.json").text
            for url in (
                f"{API}/jobs/{job_id}",
                f"{API}/deployment_targets/{target['id']}",
                f"{API}/deployment_targets?project_id={project}",
                f"{API}/deployment_targets/{target['id']}/history",
            ):
                assert SECRET not in api.get(url).text, url
            history = api.get(f"{API}/deployment_targets/{target['id']}/history").json()
            assert [d["state"] for d in history["deployments"]] == ["STARTED"]
        assert SECRET not in server.output()
    finally:
        server.stop()
