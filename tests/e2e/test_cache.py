"""The `cache` command end to end: a real server and its embedded agent run two workflows of
one project; the first stores directories (by key and key-less for npm and pip), the second
restores them (by prefix, first hit of several keys, key-less), and `checkout --use-cache`
clones once and then restores the clone and fetches only what is new. Each check fails its
job unless Semaphore's behaviour held: its messages and exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
PACKAGE_LOCK = '{"name": "app", "lockfileVersion": 3}\n'
REQUIREMENTS = "requests==2.32.3\n"

FIRST = [
    "command -v cache",
    "cache is_not_empty; [ $? -eq 1 ]",
    "mkdir -p deps/sub && for i in $(seq 1 200); do echo $i > deps/sub/f$i; done",
    "cache store deps-$SEMAPHORE_GIT_BRANCH-v1 deps > store.log; cat store.log",
    "grep -q \"Uploading 'deps' with cache key 'deps-master-v1'...\" store.log",
    "grep -q 'Upload complete.' store.log",
    "cache store deps-master-v1 deps | grep -qx \"Key 'deps-master-v1' already exists.\"",
    "cache store other/key deps | grep -qx \"Key 'other/key' is normalized to 'other-key'.\"",
    "cache has_key other-key",
    "cache delete other-key | grep -qx \"Key 'other-key' is deleted.\"",
    "cache has_key other-key > has.log; [ $? -eq 1 ]",
    "grep -qx \"Key 'other-key' doesn't exist in the cache store.\" has.log",
    "cache store absent no/such/dir | grep -qx \"'no/such/dir' doesn't exist locally.\"",
    "cache store onlyone | grep -qx 'Incorrect number of arguments!'",
    f"printf '%s' '{PACKAGE_LOCK}' > package-lock.json",
    "mkdir -p node_modules/left-pad && echo 'module.exports = 1' > node_modules/left-pad/index.js",
    f"printf '%s' '{REQUIREMENTS}' > requirements.txt",
    "mkdir -p .pip_cache/wheels && echo wheel > .pip_cache/wheels/requests.whl",
    "cache store > auto.log; cat auto.log",
    "grep -qx 'Detected package-lock.json.' auto.log",
    "grep -qx \"Using default cache path 'node_modules'.\" auto.log",
    "grep -qx 'Detected requirements.txt.' auto.log",
    "cache has_key node-modules-master-$(checksum package-lock.json)",
    "cache has_key requirements-master-$(checksum requirements.txt)",
    "cache list > list.log; cat list.log",
    "head -1 list.log | grep -q '^NAME  *SIZE  *STORED AT  *ACCESSED AT'",
    "grep -q '^deps-master-v1 ' list.log",
    "cache is_not_empty",
    "cache usage > usage.log; cat usage.log",
    "grep -q '^FREE SPACE: ' usage.log && grep -q '^USED SPACE: ' usage.log",
    "cache nonsense 2> unknown.log; [ $? -eq 1 ]",
    'grep -q \'unknown command "nonsense" for "cache"\' unknown.log',
    "checkout --use-cache > ~/checkout.log; cat ~/checkout.log",
    "grep -qx 'No git cache... caching' ~/checkout.log",
    '[ "$(git rev-parse HEAD)" = "$SEMAPHORE_GIT_SHA" ]',
    "cache list | grep -q '^git-cache-'",
]
SECOND = [
    "cache restore deps-$SEMAPHORE_GIT_BRANCH-v2,deps-$SEMAPHORE_GIT_BRANCH > restore.log",
    "cat restore.log",
    "grep -qx \"MISS: 'deps-master-v2'.\" restore.log",
    "grep -qx \"HIT: 'deps-master', using key 'deps-master-v1'.\" restore.log",
    "grep -qx 'Restored: deps/.' restore.log",
    '[ "$(cat deps/sub/f200)" = 200 ] && [ "$(ls deps/sub | wc -l)" = 200 ]',
    "cache restore nothing-here | grep -qx \"MISS: 'nothing-here'.\"",
    f"printf '%s' '{PACKAGE_LOCK}' > package-lock.json",
    f"printf '%s' '{REQUIREMENTS}' > requirements.txt",
    "cache restore > auto.log; cat auto.log",
    "grep -q \"Fetching 'node_modules' directory with cache keys 'node-modules-master-\" auto.log",
    "grep -qx 'module.exports = 1' node_modules/left-pad/index.js",
    "grep -qx wheel .pip_cache/wheels/requests.whl",
    "mkdir elsewhere && cd elsewhere && cache restore | grep -qx 'Nothing to restore from cache.'",
    "SEMAPHORE_ARTIFACT_TOKEN=forged cache list > bad.log; [ $? -eq 0 ]",
    "grep -q '^error: .*401' bad.log",
    "CACHE_FAIL_ON_ERROR=true SEMAPHORE_ARTIFACT_TOKEN=forged cache list; [ $? -eq 1 ]",
    "checkout --use-cache > ~/checkout.log; cat ~/checkout.log",
    "grep -qx 'Restored cache' ~/checkout.log",
    "grep -qx 'Git cache up-to-date.' ~/checkout.log",
    '[ "$(git rev-parse HEAD)" = "$SEMAPHORE_GIT_SHA" ] && [ -f second.txt ]',
    "cd .. && cache clear | grep -qx 'Deleted all caches.'",
    "cache list | grep -qx 'Cache is empty.'",
    "cache is_not_empty; [ $? -eq 1 ]",
    "echo CACHE-OK",
]


def pipeline(commands: list[str]) -> str:
    """A pipeline file, as JSON (which is YAML): no quoting of the commands to get wrong."""
    return json.dumps(
        {
            "version": "v1.0",
            "name": "Cache",
            "agent": {"machine": {"type": "e1-standard-2"}},
            "blocks": [
                {"name": "Cache", "task": {"jobs": [{"name": "cache", "commands": commands}]}}
            ],
        }
    )


def run(api: httpx.Client, project: str) -> dict:
    started = api.post(
        f"{API}/plumber-workflows", json={"project_id": project, "reference": "refs/heads/master"}
    ).json()
    deadline = time.monotonic() + 120
    while True:
        body = api.get(
            f"{API}/pipelines/{started['pipeline_id']}", params={"detailed": "true"}
        ).json()
        if body["pipeline"]["state"] == "done":
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def log_of(api: httpx.Client, pipeline: dict) -> str:
    job = pipeline["blocks"][0]["jobs"][0]["job_id"]
    return api.get(f"/jobs/{job}/plain_logs.json").text


def test_a_cache_carries_directories_and_the_git_clone_between_workflows(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "app")
    repo.commit({".semaphore/semaphore.yml": pipeline(FIRST)})
    server = ServerProcess(database_url, tmp_path / "data", extra_env={"BLOCKPOST_AGENTS": "1"})
    server.start()
    try:
        with server.admin_client() as api:
            project = api.post(
                f"{API}/projects",
                json={"metadata": {"name": "app"}, "spec": {"repository": {"url": repo.url}}},
            ).json()["metadata"]["id"]
            first = run(api, project)
            assert first["pipeline"]["result"] == "passed", log_of(api, first)
            listed = api.get(f"{API}/projects/{project}/cache").json()
            names = {key["name"] for key in listed["keys"]}
            assert "deps-master-v1" in names
            assert any(name.startswith("git-cache-") for name in names)
            # the second workflow runs at a new commit: the restored clone fetches it
            repo.commit({".semaphore/semaphore.yml": pipeline(SECOND), "second.txt": "new"})
            second = run(api, project)
            log = log_of(api, second)
            assert second["pipeline"]["result"] == "passed", log
            assert "CACHE-OK" in log
            assert api.get(f"{API}/projects/{project}/cache").json()["keys"] == []
    finally:
        server.stop()
