"""`test-results publish` end to end: a real server and its embedded agent run a job that
publishes JUnit files, and the pipeline's test results show them; a malformed file fails
the command with a message naming it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
PIPELINE = r"""version: v1.0
name: Tests
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Test
    task:
      jobs:
        - name: unit
          commands:
            - checkout
            - echo '<testsuites><testsuite>' > bad.xml
            - test-results publish reports --name Unit
            - test-results publish bad.xml 2> bad.log; [ $? -eq 1 ]
            - 'grep -q "test-results: bad.xml: is not well-formed XML" bad.log'
            - test-results publish missing.xml 2> missing.log; [ $? -eq 1 ]
            - 'grep -q "stat missing.xml: no such file or directory" missing.log'
            - test-results gen-pipeline-report
"""
CART = """<testsuites><testsuite name="cart" time="0.5">
<testcase classname="cart" name="adds" time="0.25"/>
<testcase classname="cart" name="totals" time="0.25">
<failure message="want 3, got 4">cart_test.go:9</failure></testcase>
</testsuite></testsuites>
"""
STORE = """<testsuite name="store">
<properties><property name="go.version" value="go1.22"/></properties>
<testcase name="TestPut"/></testsuite>
"""


def done(api: httpx.Client, pipeline_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        body = api.get(f"{API}/pipelines/{pipeline_id}", params={"detailed": "true"}).json()
        if body["pipeline"]["state"] == "done":
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_a_job_publishes_junit_files_that_the_pipeline_summary_shows(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "app")
    repo.commit(
        {
            ".semaphore/semaphore.yml": PIPELINE,
            "reports/junit.xml": CART,
            "reports/go/store.xml": STORE,
            "reports/notes.txt": "not a report",
        }
    )
    server = ServerProcess(
        database_url,
        tmp_path / "data",
        extra_env={"BLOCKPOST_AGENTS": "1", "BLOCKPOST_EMBEDDED_AGENT_USERS": "all"},
    )
    server.start()
    try:
        with server.admin_client() as api:
            project = api.post(
                f"{API}/projects",
                json={"metadata": {"name": "app"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            started = api.post(
                f"{API}/plumber-workflows",
                json={"project_id": project, "reference": "refs/heads/master"},
            ).json()
            finished = done(api, started["pipeline_id"])
            assert finished["blocks"], finished["pipeline"].get("error_description")
            [job] = finished["blocks"][0]["jobs"]
            log = api.get(f"/jobs/{job['job_id']}/plain_logs.json").text
            assert finished["pipeline"]["result"] == "passed", log
            assert "* reports/junit.xml: 'Unit' (generic): 2 tests, 1 passed, 1 failed" in log
            body = api.get(f"{API}/pipelines/{started['pipeline_id']}/test_results").json()
    finally:
        server.stop()
    assert body["summary"]["total"] == 3
    assert body["summary"]["failed"] == 1
    by_framework = {r["framework"]: r for r in body["testResults"]}
    assert by_framework["golang"]["name"] == "Unit"
    [cart] = by_framework["generic"]["suites"]
    failure = cart["tests"][1]["failure"]
    assert failure == {"message": "want 3, got 4", "type": "", "body": "cart_test.go:9"}
    assert [j["job_name"] for j in body["jobs"]] == ["unit"]
