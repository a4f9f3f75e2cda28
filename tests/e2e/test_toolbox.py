"""The job toolbox end to end: a real server and its embedded agent (in the bubblewrap
sandbox when this machine has one) run a workflow whose jobs use `artifact`,
`sem-context` and `retry` as real pipelines do, errors included."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from blockpost.agent.sandbox import JobUser, SandboxMode, SandboxUnavailable, resolve
from blockpost.db.engine import Database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
# Each check fails its job unless the behaviour held: a job passes only when all did.
BUILD_COMMANDS = [
    "command -v artifact sem-context retry && cat /proc/sys/kernel/hostname",
    "mkdir -p out/reports/unit && echo built > out/app.bin",
    "echo '<testsuite/>' > out/reports/unit/a.xml && echo b > out/reports/b.txt",
    "artifact push workflow out/app.bin",
    "artifact push workflow out/app.bin 2> exists.log; [ $? -eq 1 ]",
    "grep -q \"'artifacts/workflows/$SEMAPHORE_WORKFLOW_ID/app.bin' already exists in the "
    'remote storage; delete it first, or use --force flag" exists.log',
    "artifact push workflow out/app.bin --force --destination bin/app.bin",
    "artifact push job out/reports",
    "artifact push project out/missing.bin 2> missing.log; [ $? -eq 1 ]",
    "grep -q \"Error pushing artifact: path 'out/missing.bin' does not exist locally\" missing.log",
    "sem-context put release=1.2.3",
    "sem-context put release=other 2> again.log; [ $? -eq 1 ]",
    "grep -q 'Key release already exists' again.log",
    "retry --times 3 '[ -f twice ] || { [ -f once ] && touch twice; touch once; false; }' "
    "> retry.log",
    "[ $(grep -c Retrying. retry.log) = 2 ]",
    "artifact pull job reports -d pulled && cmp pulled/unit/a.xml out/reports/unit/a.xml",
]
USE_COMMANDS = [
    "artifact pull workflow app.bin && grep -qx built app.bin",
    "artifact pull workflow app.bin 2> here.log; [ $? -eq 1 ]",
    "grep -q \"'app.bin' already exists locally; delete it first, or use --force flag\" here.log",
    "artifact pull workflow bin/app.bin -d copy.bin -f && cmp app.bin copy.bin",
    "artifact pull workflow nothing.bin 2> none.log; [ $? -eq 1 ]",
    "grep -q 'Please check if the artifact you are trying to pull exists.' none.log",
    "artifact yank workflow bin",
    "artifact pull workflow bin/app.bin 2> /dev/null; [ $? -eq 1 ]",
    '[ "$(sem-context get release)" = 1.2.3 ]',
    "sem-context get unknown-key 2> unknown.log; [ $? -eq 1 ]",
    "grep -qx \"Cant find the key 'unknown-key'\" unknown.log",
    '[ "$(sem-context get unknown-key --fallback dflt)" = dflt ]',
    "sem-context put stage=used",
]
DEPLOY_COMMANDS = [
    "artifact pull workflow app.bin && grep -qx built app.bin",
    '[ "$(sem-context get release)" = 1.2.3 ]',
    '[ "$(sem-context get stage)" = used ]',
    "sem-context delete release",
    "sem-context get release 2> /dev/null; [ $? -eq 1 ]",
    "sem-context delete release 2> deleted.log; [ $? -eq 1 ]",
    "grep -q 'Key release does not exist' deleted.log",
    'sem-context put release=2.0.0 && [ "$(sem-context get release)" = 2.0.0 ]',
    "echo DEPLOYED",
]


def pipeline(name: str, blocks: list[tuple[str, list[str]]], **more: object) -> str:
    """A pipeline file, as JSON (which is YAML): no quoting of the commands to get wrong."""
    return json.dumps(
        {
            "version": "v1.0",
            "name": name,
            "agent": {"machine": {"type": "e1-standard-2"}},
            "blocks": [
                {
                    "name": block,
                    "dependencies": [blocks[number - 1][0]] if number else [],
                    "task": {"jobs": [{"name": block.lower(), "commands": commands}]},
                }
                for number, (block, commands) in enumerate(blocks)
            ],
            **more,
        }
    )


BUILD = pipeline(
    "Build",
    [("Build", BUILD_COMMANDS), ("Use", USE_COMMANDS)],
    promotions=[
        {
            "name": "Deploy",
            "pipeline_file": "deploy.yml",
            "auto_promote": {"when": "result = 'passed'"},
        }
    ],
)
DEPLOY = pipeline("Deploy", [("Deploy", DEPLOY_COMMANDS)])


def sandbox() -> str:
    try:
        user = JobUser.named("nobody") if os.geteuid() == 0 else None
        found = resolve(SandboxMode.BWRAP, user)[0] is SandboxMode.BWRAP
    except SandboxUnavailable:
        found = False
    return "bwrap" if found else "none"


def done(api: httpx.Client, pipeline_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        body = api.get(f"{API}/pipelines/{pipeline_id}", params={"detailed": "true"}).json()
        if body["pipeline"]["state"] == "done":
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def logs(api: httpx.Client, pipeline: dict) -> str:
    return "\n".join(
        api.get(f"/jobs/{job['job_id']}/plain_logs.json").text
        for block in pipeline["blocks"]
        for job in block["jobs"]
    )


def why(api: httpx.Client, pipeline: dict) -> str:
    return f"{pipeline['pipeline'].get('error_description')!r}\n{logs(api, pipeline)}"


def test_jobs_pass_artifacts_and_context_values_along_a_workflow_and_its_promotion(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "app")
    repo.commit({".semaphore/semaphore.yml": BUILD, ".semaphore/deploy.yml": DEPLOY})
    mode = sandbox()
    server = ServerProcess(
        database_url,
        tmp_path / "data",
        extra_env={
            "BLOCKPOST_AGENTS": "1",
            "BLOCKPOST_JOB_SANDBOX": mode,
            "BLOCKPOST_EMBEDDED_AGENT_USERS": "all",
        },
    )
    server.start()
    try:
        with server.admin_client() as api:
            project = api.post(
                f"{API}/projects",
                json={"metadata": {"name": "app"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            build = api.post(
                f"{API}/plumber-workflows",
                json={"project_id": project, "reference": "refs/heads/master"},
            ).json()
            built = done(api, build["pipeline_id"])
            assert built["pipeline"]["result"] == "passed", why(api, built)
            deadline = time.monotonic() + 30
            while not (
                promos := api.get(
                    f"{API}/promotions", params={"pipeline_id": build["pipeline_id"]}
                ).json()
            ):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            deployed = done(api, promos[0]["scheduled_pipeline_id"])
            assert deployed["pipeline"]["result"] == "passed", why(api, deployed)
            assert "DEPLOYED" in logs(api, deployed)
            log = logs(api, built)
            assert "Successfully pushed artifact for current workflow." in log
            # The agent's copy in the job's control dir, which the sandbox shows too.
            assert "/control/toolbox/bin/sem-context\n" in log
            assert mode == "none" or "blockpost-job" in log  # the sandbox's host name
    finally:
        server.stop()
