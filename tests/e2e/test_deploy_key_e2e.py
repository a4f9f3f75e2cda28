"""A private repository end to end: a real sshd serves it, a real server with an embedded
agent fetches it with the project's deploy key and its job's `checkout` clones it over ssh;
another project's job has no key; a changed host key is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support import sshd
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sshd.missing_reason() is not None, reason=str(sshd.missing_reason())),
]
API = "/api/v1alpha"
MARKER = "private-marker-4711"
PIPELINE = f"""\
version: v1.0
name: Private
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Check
    task:
      jobs:
        - name: check
          commands:
            - test "$(stat -c %a ~/.ssh/id_rsa)" = 600
            - checkout
            - test "$(git rev-parse HEAD)" = "$SEMAPHORE_GIT_SHA"
            - grep {MARKER} private.txt
"""
OTHER_PIPELINE = """\
version: v1.0
name: Other
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: Check
    task:
      jobs:
        - name: check
          commands:
            - test ! -e ~/.ssh/id_rsa
            - test -z "$GIT_SSH_COMMAND"
            - if git ls-remote "$PRIVATE_URL"; then exit 1; fi
"""


@pytest.fixture
def ssh_server(tmp_path: Path) -> Iterator[sshd.SshServer]:
    server = sshd.SshServer(tmp_path / "sshd").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(db: Database, database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    started = ServerProcess(
        database_url, tmp_path / "data", extra_env={"BLOCKPOST_AGENTS": "1"}
    ).start()
    try:
        yield started
    finally:
        started.stop()


def _run(api: httpx.Client, project_id: str) -> httpx.Response:
    return api.post(
        f"{API}/plumber-workflows",
        json={"project_id": project_id, "reference": "refs/heads/master"},
    )


def _done(api: httpx.Client, started: httpx.Response) -> tuple[str, str]:
    """The pipeline's result and its jobs' logs, once it is done."""
    assert started.status_code == 200, started.text
    pipeline_id = started.json()["pipeline_id"]
    deadline = time.monotonic() + 60
    while True:
        body = api.get(f"{API}/pipelines/{pipeline_id}", params={"detailed": "true"}).json()
        if body["pipeline"]["state"] == "done":
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    logs = "\n".join(
        api.get(f"/jobs/{job['job_id']}/plain_logs.json").text
        for block in body["blocks"]
        for job in block["jobs"]
    )
    return body["pipeline"]["result"], logs


def _project(api: httpx.Client, name: str, url: str) -> str:
    created = api.post(
        f"{API}/projects", json={"metadata": {"name": name}, "spec": {"repository": {"url": url}}}
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


def test_a_private_repository_is_fetched_and_checked_out_with_its_deploy_key(
    server: ServerProcess, ssh_server: sshd.SshServer, tmp_path: Path
) -> None:
    origin = GitRepo(tmp_path / "origin")
    origin.commit({".semaphore/semaphore.yml": PIPELINE, "private.txt": MARKER})
    url = ssh_server.url(origin.path)
    other = GitRepo(tmp_path / "other")
    other.commit({".semaphore/semaphore.yml": OTHER_PIPELINE.replace("$PRIVATE_URL", url)})
    with server.admin_client() as api:
        project = _project(api, "private", url)
        refused = _run(api, project)
        assert refused.status_code == 422, refused.text
        assert "give the project a deploy key" in refused.json()["message"]

        key = api.post(f"{API}/projects/{project}/deploy_key").json()
        ssh_server.authorize(key["public_key"])
        result, logs = _done(api, _run(api, project))
        assert result == "passed", logs
        assert "HEAD is now at" in logs
        assert "Injecting .ssh/id_rsa with file mode 0600" in logs
        assert "PRIVATE KEY" not in logs
        shown = api.get(f"{API}/projects/{project}/deploy_key").json()
        host = f"[127.0.0.1]:{ssh_server.port}"
        assert [(k["host"], k["fingerprint"]) for k in shown["known_hosts"]] == [
            (host, ssh_server.host_fingerprint())
        ]

        result, logs = _done(api, _run(api, _project(api, "other", other.url)))
        assert result == "passed", logs

        recorded = ssh_server.host_fingerprint()
        ssh_server.new_host_key()
        origin.commit({"private.txt": f"{MARKER} again"})
        changed = _run(api, project)
        assert changed.status_code == 422, changed.text
        assert changed.json()["message"].endswith(
            f"the SSH host key of {host} has changed: recorded {recorded}, offered now "
            f"{ssh_server.host_fingerprint()}. If the change is expected, replace the "
            "project's known hosts (PUT or DELETE its known_hosts)"
        )
        put = api.put(
            f"{API}/projects/{project}/known_hosts",
            json={"known_hosts": ssh_server.host_key_line()},
        )
        assert put.status_code == 200, put.text
        result, logs = _done(api, _run(api, project))
        assert result == "passed", logs
