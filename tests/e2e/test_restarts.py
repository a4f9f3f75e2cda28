"""Restarts leave a working agent: `serve` stopped and started again, killed and started
again, its embedded agent killed under a job, a hand-run agent back under the same name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
# The long form restarts within the default 60 s lease after 1, 10 and 59 s
# (BLOCKPOST_TEST_RESTART_LEASE=60); CI runs the same pauses against a 12 s lease.
LEASE_SECONDS = int(os.environ.get("BLOCKPOST_TEST_RESTART_LEASE", "12"))
PAUSES = (1, LEASE_SECONDS // 6 or 1, LEASE_SECONDS - 1)


@pytest.fixture
def server(db: Database, database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"BLOCKPOST_AGENTS": "1", "BLOCKPOST_AGENT_LEASE_SECONDS": str(LEASE_SECONDS)}
    process = ServerProcess(database_url, tmp_path / "data", extra_env=env).start()
    try:
        yield process
    finally:
        process.stop()


def project(api: httpx.Client) -> str:
    found = api.get(f"{API}/projects/restarts")
    if found.status_code == 200:
        return str(found.json()["metadata"]["id"])
    created = api.post(
        f"{API}/projects",
        json={"metadata": {"name": "restarts"}, "spec": {"repository": {"url": "/srv"}}},
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


def submit(api: httpx.Client, commands: list[str], machine: str = "e1-standard-2") -> str:
    body = {
        "metadata": {"name": "after-restart"},
        "spec": {
            "project_id": project(api),
            "agent": {"machine": {"type": machine, "os_image": "ubuntu2004"}},
            "commands": commands,
        },
    }
    created = api.post(f"{API}/jobs", json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


def wait(api: httpx.Client, job_id: str, state: str = "FINISHED", timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"{API}/jobs/{job_id}").json()
        if job["status"]["state"] == state:
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not {state} within {timeout} s: {job}")


def runs_a_job(server: ServerProcess) -> None:
    with server.admin_client() as api:
        job = wait(api, submit(api, ["echo still here"]))
        assert job["status"]["result"] == "PASSED", server.output()


def test_serve_stopped_and_started_again_within_the_lease_runs_the_next_job(
    server: ServerProcess,
) -> None:
    """Paused for a second, a sixth of the lease and all but a second of it: each time
    inside the lease of the agent registered before."""
    runs_a_job(server)
    for pause in PAUSES:
        server.stop()
        assert server.process is not None
        assert server.process.returncode == 0, server.output()
        time.sleep(pause)
        server.start()
        runs_a_job(server)


def test_serve_killed_and_started_again_runs_the_next_job(server: ServerProcess) -> None:
    """No goodbye from anyone: the new agent takes over its predecessor's name."""
    runs_a_job(server)
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.start()
    runs_a_job(server)


def test_a_dead_embedded_agent_fails_its_job_at_once_and_comes_back(
    server: ServerProcess,
) -> None:
    with server.admin_client() as api:
        job_id = submit(api, ["sleep 120"])
        wait(api, job_id, "RUNNING")
        (pid,) = server.embedded_agent_pids()
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        job = wait(api, job_id, timeout=10)
        assert time.monotonic() - killed_at < 5, "the job waited for the lease"
        assert job["status"]["result"] == "FAILED"
        assert job["status"]["result_reason"].endswith("died (exit code -9)")
        assert wait(api, submit(api, ["echo back"]))["status"]["result"] == "PASSED"
    assert server.embedded_agent_pids() != [pid]


def hand_run_agent(
    server: ServerProcess, api: httpx.Client, tmp_path: Path, agent_type: str
) -> list[str]:
    """The command of an agent of a new type, named after it, its token in a file."""
    made = api.post(f"{API}/self_hosted_agent_types", json={"metadata": {"name": agent_type}})
    token_file = tmp_path / f"{agent_type}.token"
    token_file.write_text(made.json()["status"]["registration_token"])
    command = [sys.executable, "-m", "blockpost", "agent", "--url", server.url]
    command += ["--token-file", str(token_file), "--name", f"{agent_type}-agent"]
    return [*command, "--jobs-dir", str(tmp_path / "jobs")]


def test_a_hand_run_agent_restarted_under_its_name_gets_back_in(
    server: ServerProcess, tmp_path: Path
) -> None:
    """As `docker compose restart` of an agent container: same host, same name, no
    disconnect, well inside the lease."""
    with server.admin_client() as api:
        command = hand_run_agent(server, api, tmp_path, "s1-compose")
        log = (tmp_path / "agent.log").open("a")
        first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            assert wait(api, submit(api, ["true"], "s1-compose"))["status"]["result"] == "PASSED"
            first.kill()
            first.wait()
            second = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                job = wait(api, submit(api, ["true"], "s1-compose"))
                assert job["status"]["result"] == "PASSED", (tmp_path / "agent.log").read_text()
            finally:
                second.terminate()
                second.wait(timeout=15)
        finally:
            if first.poll() is None:
                first.kill()


def test_an_idle_agent_told_to_stop_leaves_without_waiting_out_its_held_sync(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Its sync is held for the whole hold (20 s): SIGTERM must not wait for it."""
    with server.admin_client() as api:
        command = hand_run_agent(server, api, tmp_path, "s1-stopping")
        agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

        def listed() -> list:
            return list(
                api.get(f"{API}/agents", params={"agent_type": "s1-stopping"}).json()["agents"]
            )

        try:
            deadline = time.monotonic() + 20
            while not listed():
                assert time.monotonic() < deadline, "the agent never registered"
                time.sleep(0.1)
            time.sleep(1)  # well inside a held sync
            told = time.monotonic()
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=10) == 0
            # not the held sync's 20 s; 2 s on a quiet machine, more with two suites running
            assert time.monotonic() - told < 5
            assert listed() == [], "it left without saying goodbye"
        finally:
            if agent.poll() is None:
                agent.kill()
