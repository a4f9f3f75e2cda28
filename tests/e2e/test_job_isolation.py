"""An ordinary user's job on the embedded agent, acting as an attacker: it must find none
of the server's secrets, under the sandbox and under the fallback (another OS user)."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import httpx
import pytest

from blockpost.agent.sandbox import JobUser, SandboxMode, SandboxUnavailable, resolve
from blockpost.db.engine import Database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
ADMIN_PASSWORD = "admin-password-that-must-not-leak"

ATTACK = [
    "env",
    "id",
    'ls -la "$HOME/../.." "$HOME/../../.." || true',
    'ls -laR "$DATA_DIR" || true',
    'cat "$DATA_DIR/secret.key" "$DATA_DIR/local-agent.token" || true',
    'head -c 64 "$DATA_DIR/blockpost.db" || true',
    "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null || true",
    "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>/dev/null || true",
    'ls -la "$OTHER_JOB" || true',
    "echo ATTACK-DONE",
]


def sandbox_available() -> bool:
    user = JobUser.named("nobody") if os.geteuid() == 0 else None
    try:
        return resolve(SandboxMode.BWRAP, user)[0] is SandboxMode.BWRAP
    except SandboxUnavailable:
        return False


def user_client(server: ServerProcess, admin: httpx.Client, name: str) -> httpx.Client:
    made = admin.post("/api/users", json={"username": name, "password": "mallory-password-1"})
    assert made.status_code == 201, made.text
    client = httpx.Client(base_url=server.url, timeout=30)
    login = client.post("/api/auth/login", json={"auth": name, "password": "mallory-password-1"})
    assert login.status_code == 204, login.text
    client.headers["Authorization"] = f"Token {client.post('/api/user/tokens').json()['id']}"
    return client


def run_job(client: httpx.Client, project: str, commands: list[str], **spec: object) -> dict:
    body = {
        "metadata": {"name": "curious"},
        "spec": {
            "project_id": project,
            "agent": {"machine": {"type": "e1-standard-2", "os_image": "ubuntu2004"}},
            "commands": commands,
            **spec,
        },
    }
    created = client.post(f"{API}/jobs", json=body)
    assert created.status_code == 200, created.text
    job_id = created.json()["metadata"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"{API}/jobs/{job_id}").json()
        if job["status"]["state"] == "FINISHED":
            job["log"] = client.get(f"{API}/jobs/{job_id}/plain_logs.json").text
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_a_users_job_finds_none_of_the_servers_secrets(
    mode: str, db: Database, database_url: str, tmp_path: Path
) -> None:
    if mode == "bwrap" and not sandbox_available():
        pytest.skip("bubblewrap cannot run on this machine")
    if mode == "none" and os.geteuid() != 0:
        pytest.skip("without a sandbox, jobs are kept from the server only by another OS user")
    data_dir = tmp_path / "data"
    server = ServerProcess(database_url, data_dir, ADMIN_PASSWORD)
    other_job = server.jobs_dir / "some-other-job"
    other_job.mkdir()
    (other_job / "their-file").write_text("another job's work")
    env = {
        "BLOCKPOST_AGENTS": "1",
        "BLOCKPOST_JOB_SANDBOX": mode,
        # Without a sandbox only administrators' jobs run here unless the operator says so.
        "BLOCKPOST_EMBEDDED_AGENT_USERS": "all",
    }
    server.extra_env = env
    server.start()
    try:
        with server.admin_client() as admin:
            mallory = user_client(server, admin, "mallory")
            project = mallory.post(
                f"{API}/projects",
                json={"metadata": {"name": "curious"}, "spec": {"repository": {"url": "/srv"}}},
            ).json()["metadata"]["id"]
            job = run_job(
                mallory,
                project,
                ATTACK,
                env_vars=[
                    {"name": "DATA_DIR", "value": str(data_dir.resolve())},
                    {"name": "OTHER_JOB", "value": str(other_job)},
                ],
            )
            planted = data_dir / "planted-by-a-job"
            written = run_job(
                mallory,
                project,
                ["true"],
                files=[{"path": str(planted), "content": base64.b64encode(b"x").decode()}],
            )
            mallory.close()
    finally:
        server.stop()
    log = job["log"]
    assert "ATTACK-DONE" in log, log
    assert job["status"]["result"] == "PASSED", log
    secrets = {
        "admin password": ADMIN_PASSWORD,
        "database URL": database_url,
        "secret key": (data_dir / "secret.key").read_text().strip(),
        "agent registration token": (data_dir / "local-agent.token").read_text().strip(),
        "SQLite header": "SQLite format 3",
    }
    if mode == "bwrap":
        # Without a sandbox every job runs as the same job user: README says so.
        secrets["another job's file"] = "their-file"
    leaked = [what for what, value in secrets.items() if value in log]
    assert not leaked, f"the job saw: {leaked}\n{log}"
    assert "uid=0(" not in log, "the job ran as root"
    assert not planted.exists(), "a payload file path let the agent write into the data dir"
    assert written["status"]["state"] == "FINISHED"
