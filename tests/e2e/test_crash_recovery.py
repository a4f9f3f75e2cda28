"""Crash and agent-loss recovery, with real processes: the server killed with SIGKILL mid-run,
an agent killed, an agent frozen (cut off) and back. Every pipeline ends in a true state,
no job runs twice or stays running, and what was logged before the trouble is kept."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from blockpost.db.engine import Database, asyncpg_dsn
from tests.e2e.test_pipelines_e2e import Rig, _rig
from tests.support.databases import fresh_database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

API = "/api/v1alpha"
AGENT_TYPE = "s1-crash"
# The long form freezes an agent for 30 s; CI runs this bounded form.
CUTOFF_SECONDS = float(os.environ.get("BLOCKPOST_TEST_CUTOFF_SECONDS", "12"))
LEASE_SECONDS = 10  # the shortest lease the server accepts


def pipeline(runs: Path, seconds: float) -> str:
    """Each job appends its name to `runs` (so a second run shows) and logs progress lines."""
    return f"""\
version: v1.0
name: Crash
agent:
  machine:
    type: {AGENT_TYPE}
blocks:
  - name: Long
    task:
      jobs:
        - name: long
          commands:
            - echo long >> {runs}
            - for i in $(seq 1 {int(seconds * 2)}); do echo "tick-$i"; sleep 0.5; done
  - name: After
    task:
      jobs:
        - name: after
          commands:
            - echo after >> {runs}
"""


@dataclass
class Crash:
    rig: Rig
    tmp: Path
    runs: Path
    token: str = ""
    agent: subprocess.Popen[str] | None = None

    def start_agent(self) -> subprocess.Popen[str]:
        self.agent = subprocess.Popen(
            [sys.executable, "-m", "blockpost", "agent", "--url", self.rig.server.url,
             "--token", self.token, "--workdir", str(self.tmp / "agent-home")],
            stdout=(self.tmp / "agent.log").open("a"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its jobs' shells in its group: one kill ends them all
        )  # fmt: skip
        return self.agent

    def kill_agent(self) -> None:
        if self.agent is not None and self.agent.poll() is None:
            os.killpg(self.agent.pid, signal.SIGKILL)
            self.agent.wait(timeout=10)

    def wait_log(self, job_id: str, text: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if text in self.rig.log(job_id):
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never logged: {self.rig.log(job_id)!r}")

    def jobs(self, ppl_id: str) -> list[dict]:
        return [j for b in self.rig.describe(ppl_id)["blocks"] for j in b["jobs"]]


@pytest.fixture
def crash(
    request: pytest.FixtureRequest, db: Database, database_url: str, tmp_path: Path
) -> Iterator[Crash]:
    """A server (agent lease: the test's parameter, else LEASE_SECONDS) and a project."""
    repo = GitRepo(tmp_path / "repo")
    runs = tmp_path / "runs.txt"
    repo.commit({".semaphore/semaphore.yml": pipeline(runs, seconds=4)})
    env = {"BLOCKPOST_AGENT_LEASE_SECONDS": str(getattr(request, "param", LEASE_SECONDS))}
    server = ServerProcess(database_url, tmp_path / "data", extra_env=env).start()
    state = None
    try:
        with server.admin_client() as api:
            state = Crash(_rig(server, api, repo), tmp_path, runs)
            created = api.post(
                f"{API}/self_hosted_agent_types", json={"metadata": {"name": AGENT_TYPE}}
            )
            state.token = created.json()["status"]["registration_token"]
            yield state
    finally:
        if state is not None:
            state.kill_agent()
        server.stop()


def test_a_server_killed_mid_run_comes_back_and_its_pipelines_end_truly(crash: Crash) -> None:
    rig = crash.rig
    crash.start_agent()
    ppl = rig.run()["pipeline_id"]
    long_id = rig.wait_job(ppl, "long", "RUNNING")
    crash.wait_log(long_id, "tick-1")
    assert rig.server.process is not None
    rig.server.process.kill()  # SIGKILL: no shutdown, no last commit
    rig.server.process.wait(timeout=10)
    rig.server.start()  # same database, data dir and port; the agent keeps its job
    with rig.server.admin_client() as api:
        rig.api = api
        body = rig.wait(ppl)
        assert (body["pipeline"]["result"], body["pipeline"]["result_reason"]) == ("passed", "test")
        jobs = crash.jobs(ppl)
        assert [(j["name"], j["status"], j["result"]) for j in jobs] == [
            ("long", "FINISHED", "PASSED"),
            ("after", "FINISHED", "PASSED"),
        ]
        assert crash.runs.read_text().split() == ["long", "after"]  # each ran once
        log = rig.log(long_id)
        ticks = [line for line in log.splitlines() if line.startswith("tick-")]
        assert ticks == [f"tick-{n}" for n in range(1, 9)], log  # before and after the crash


def test_a_killed_agent_fails_its_job_within_the_lease_and_frees_its_place(
    crash: Crash,
) -> None:
    rig = crash.rig
    crash.start_agent()
    ppl = rig.run()["pipeline_id"]
    long_id = rig.wait_job(ppl, "long", "RUNNING")
    crash.wait_log(long_id, "tick-1")
    crash.kill_agent()
    killed_at = time.monotonic()
    body = rig.wait(ppl, timeout=LEASE_SECONDS * 3)
    took = time.monotonic() - killed_at
    assert took < LEASE_SECONDS * 2, took  # the lease, plus a reaper interval
    assert body["pipeline"]["result"] == "failed"
    assert [(j["name"], j["result"]) for j in crash.jobs(ppl)] == [("long", "FAILED")]
    described = rig.api.get(f"{API}/self_hosted_agent_types/{AGENT_TYPE}").json()
    assert described["status"]["total_agent_count"] == 0
    assert "tick-1" in rig.log(long_id)  # what it logged before it died is kept

    crash.runs.write_text("")
    crash.start_agent()  # a new agent takes the freed place and runs the next pipeline
    again = rig.wait(rig.run()["pipeline_id"])
    assert again["pipeline"]["result"] == "passed"


@pytest.mark.parametrize("crash", [int(CUTOFF_SECONDS) + 20], indirect=True)
def test_an_agent_cut_off_and_back_finishes_its_job_with_a_complete_log(crash: Crash) -> None:
    rig = crash.rig
    agent = crash.start_agent()
    ppl = rig.run()["pipeline_id"]
    long_id = rig.wait_job(ppl, "long", "RUNNING")
    crash.wait_log(long_id, "tick-1")
    os.killpg(agent.pid, signal.SIGSTOP)  # no syncs, no log pushes, the job frozen too
    try:
        time.sleep(CUTOFF_SECONDS)
        assert crash.jobs(ppl)[0]["status"] == "RUNNING"
    finally:
        os.killpg(agent.pid, signal.SIGCONT)
    body = rig.wait(ppl)
    assert body["pipeline"]["result"] == "passed", body
    log = rig.log(long_id)
    ticks = [line for line in log.splitlines() if line.startswith("tick-")]
    assert ticks == [f"tick-{n}" for n in range(1, 9)], log
    assert crash.runs.read_text().split() == ["long", "after"]


async def _cut_every_connection(admin_url: str, database: str) -> None:
    """Ends every session on `database` and waits until they are gone, not just signalled."""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        others = "datname = $1 AND pid <> pg_backend_pid()"
        await conn.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}", database
        )
        deadline = time.monotonic() + 10
        while await conn.fetchval(
            f"SELECT count(*) FROM pg_stat_activity WHERE {others}", database
        ):
            assert time.monotonic() < deadline, "sessions outlived pg_terminate_backend"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


def test_a_lost_database_connection_answers_503_once_then_recovers(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no connection to lose")
    with fresh_database(database_url, tmp_path, "lost") as url:
        server = ServerProcess(url, tmp_path / "data").start()
        try:
            with server.admin_client() as api:
                assert api.get(f"{API}/projects").status_code == 200
                name = make_url(url).database
                assert name
                # A loop service that touches the database between the cut and the request
                # meets the dead connection first and renews the pool for everyone; so the
                # request may see 200. A few cuts give the request its turn.
                answers = []
                for _ in range(5):
                    asyncio.run(_cut_every_connection(database_url, name))
                    lost = api.get(f"{API}/projects")
                    answers.append(lost.status_code)
                    assert lost.status_code in (200, 503), lost.text
                    if lost.status_code == 503:
                        assert lost.json() == {"message": "the database connection was lost; retry"}
                        assert api.get(f"{API}/projects").status_code == 200
                        break
                assert 503 in answers, answers
        finally:
            server.stop()
