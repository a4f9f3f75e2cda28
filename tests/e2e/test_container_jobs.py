"""A real server and a real `blockpost agent` process with container jobs: run in docker or
podman when there is one, failed at once when there is none, never on the host."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from blockpost.agent import containers
from blockpost.db.engine import Database
from blockpost.dispatch import queue
from blockpost.dispatch.queue import ContainerSpec, JobSpec
from blockpost.dispatch.wakeup import Wakeups
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
FINISH_TIMEOUT = 30.0
AGENT_TYPE = "s1-containers"
WAIT_FOR_WEB = "for i in $(seq 50); do (exec 3<>/dev/tcp/web/8080) && break; sleep 0.2; done"


@dataclass
class Rig:
    server: ServerProcess
    api: httpx.Client
    database_url: str
    project_id: str
    registration_token: str
    tmp: Path
    agents: list[subprocess.Popen[str]] = field(default_factory=list)

    def start_agent(self, name: str, path: str) -> subprocess.Popen[str]:
        """An agent whose PATH (where it looks for docker and podman) is `path`."""
        log = (self.tmp / f"{name}.log").open("w")
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "blockpost",
                "agent",
                "--url",
                self.server.url,
                "--token",
                self.registration_token,
                "--name",
                name,
                "--jobs-dir",
                str(self.server.jobs_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PATH": path},
        )
        self.agents.append(agent)
        deadline = time.monotonic() + FINISH_TIMEOUT
        while self.api.get(f"/api/v1alpha/agents/{name}").status_code != 200:
            assert agent.poll() is None, (self.tmp / f"{name}.log").read_text()
            assert time.monotonic() < deadline, f"agent {name} did not register"
            time.sleep(0.1)
        return agent

    def enqueue(self, spec: JobSpec) -> str:
        async def enqueue() -> str:
            db = Database(self.database_url)
            try:
                async with db.session() as session:
                    return (await queue.enqueue(session, Wakeups(), spec)).id
            finally:
                await db.dispose()

        return asyncio.run(enqueue())

    def wait(self, job_id: str, timeout: float = FINISH_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.api.get(f"/api/v1alpha/jobs/{job_id}").json()
            if job["status"]["state"] == "FINISHED":
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} not finished after {timeout}s: {job}")

    def log(self, job_id: str) -> str:
        return self.api.get(f"/jobs/{job_id}/plain_logs.json").text


@pytest.fixture
def rig(db: Database, database_url: str, tmp_path: Path) -> Iterator[Rig]:
    server = ServerProcess(
        database_url,
        tmp_path / "data",
        # A job enqueued by the test process itself carries no in-process wake-up to the
        # server (on SQLite): a short hold lets the agent find it quickly anyway.
        extra_env={"BLOCKPOST_AGENT_LEASE_SECONDS": "10", "BLOCKPOST_SYNC_HOLD_SECONDS": "1"},
    ).start()
    try:
        with server.admin_client() as api:
            project = api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "e2e"}, "spec": {"repository": {"url": "/srv/git/e2e"}}},
            ).json()
            agent_type = api.post(
                "/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": AGENT_TYPE}}
            ).json()
            rig = Rig(
                server,
                api,
                database_url,
                project["metadata"]["id"],
                agent_type["status"]["registration_token"],
                tmp_path,
            )
            try:
                yield rig
            finally:
                for agent in rig.agents:
                    agent.terminate()
                    try:
                        agent.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        agent.kill()
    finally:
        server.stop()


def container_job(rig: Rig, commands: list[str], *services: ContainerSpec) -> JobSpec:
    return JobSpec(
        name="in containers",
        agent_type=AGENT_TYPE,
        commands=commands,
        env_vars=[("GREETING", "hello")],
        epilogue_always=['echo "always: $SEMAPHORE_JOB_RESULT"'],
        project_id=rig.project_id,
        containers=[
            ContainerSpec("main", "debian:bookworm-slim", env_vars=[("IN", "main")]),
            *services,
        ],
    )


def test_a_container_job_on_an_agent_without_docker_or_podman_fails_and_never_runs_on_the_host(
    rig: Rig,
) -> None:
    # The agent registers while a `docker` answers, so the server takes it for capable; then
    # docker is gone (uninstalled, its daemon stopped): the job must not fall back to the host.
    bin_dir = rig.tmp / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\nexit 0\n")
    docker.chmod(0o755)
    rig.start_agent("no-engine", str(bin_dir))
    docker.unlink()
    marker = rig.tmp / "ran-on-the-host"
    job_id = rig.enqueue(container_job(rig, [f"touch {marker}", "echo ran-here"]))
    job = rig.wait(job_id)
    log = rig.log(job_id)
    assert job["status"]["result"] == "FAILED", log
    assert job["status"]["result_reason"] == containers.REFUSAL
    assert log == f"Starting the docker image...\n{containers.REFUSAL}\n"
    assert not marker.exists()


def working_engine() -> str | None:
    return asyncio.run(containers.find_engine())


@pytest.mark.skipif(
    working_engine() is None, reason="no docker or podman with a running engine on this machine"
)
def test_a_container_job_runs_in_its_container_with_a_service_reachable_by_name(rig: Rig) -> None:
    rig.start_agent("with-engine", os.environ.get("PATH", ""))
    web = ContainerSpec(
        "web", "busybox:1.36", command="httpd -f -p 8080 -h /etc", env_vars=[("IN", "web")]
    )
    job_id = rig.enqueue(
        container_job(
            rig,
            [
                'echo "$GREETING from $IN in $(cat /etc/debian_version | cut -c1-2)"',
                "type -t checkout",
                WAIT_FOR_WEB,
                "exec 3<>/dev/tcp/web/8080 && echo web is reachable",
                f"test ! -e {rig.tmp} && echo the host is not here",
            ],
            web,
        )
    )
    job = rig.wait(job_id, timeout=300)
    log = rig.log(job_id)
    assert job["status"]["result"] == "PASSED", log
    assert "hello from main in 12\n" in log
    assert "type -t checkout\nfunction\n" in log
    assert "web is reachable\n" in log
    assert "the host is not here\n" in log
    assert "always: passed\n" in log
    left = subprocess.run(
        [str(working_engine()), "ps", "-aq", "--filter", f"label={containers.LABEL}={job_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert left.stdout.strip() == "", "the job's containers are removed"
