"""A real server and a real `blockpost agent` process on 127.0.0.1 run jobs end to end."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from blockpost.dispatch import queue
from blockpost.dispatch.queue import JobSpec
from blockpost.dispatch.wakeup import Wakeups
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
FINISH_TIMEOUT = 30.0


@dataclass
class Rig:
    server: ServerProcess
    api: httpx.Client
    project_id: str
    registration_token: str
    home: Path
    agents: list[subprocess.Popen[str]]

    def start_agent(self, name: str) -> subprocess.Popen[str]:
        log = (self.home.parent / f"{name}.log").open("w")
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
                "--workdir",
                str(self.home),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.agents.append(agent)
        return agent

    def job_home(self, job_id: str) -> Path:
        """Each job gets its own directory under the agent's jobs dir; HOME is in it."""
        return self.home / job_id / "home"

    def submit(self, commands: list[str], **spec: object) -> str:
        body = {
            "metadata": {"name": "e2e"},
            "spec": {
                "project_id": self.project_id,
                "agent": {"machine": {"type": "s1-e2e"}},
                "commands": commands,
                **spec,
            },
        }
        response = self.api.post("/api/v1alpha/jobs", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["metadata"]["id"])

    def wait(self, job_id: str, state: str = "FINISHED", timeout: float = FINISH_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.api.get(f"/api/v1alpha/jobs/{job_id}").json()
            if job["status"]["state"] == state:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} not {state} after {timeout}s: {job}")

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
                "/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": "s1-e2e"}}
            ).json()
            home = tmp_path / "home"
            home.mkdir()
            rig = Rig(
                server,
                api,
                project["metadata"]["id"],
                agent_type["status"]["registration_token"],
                home,
                [],
            )
            rig.start_agent("e2e-agent")
            try:
                yield rig
            finally:
                for agent in rig.agents:
                    if agent.poll() is None:
                        agent.terminate()
                        try:
                            agent.wait(timeout=10)
                        except subprocess.TimeoutExpired:
                            agent.kill()
    finally:
        server.stop()


def test_commands_share_one_shell_with_env_files_and_epilogues(rig: Rig) -> None:
    job_id = rig.submit(
        [
            "mkdir -p work/sub && cd work/sub",
            "export FOO=from-export",
            'greet() { echo "hello $1"; }',
            "pwd",
            'echo "$FOO / $GREETING"',
            "greet function",
            "stat -c %a ~/.ssh/key && cat ~/.ssh/key",
        ],
        env_vars=[{"name": "GREETING", "value": "it's quoted"}],
        files=[{"path": ".ssh/key", "content": base64.b64encode(b"KEY-CONTENT\n").decode()}],
        epilogue_always_commands=['echo "always: $SEMAPHORE_JOB_RESULT"'],
        epilogue_on_pass_commands=["echo on-pass"],
        epilogue_on_fail_commands=["echo on-fail"],
    )
    job = rig.wait(job_id)
    assert job["status"]["result"] == "PASSED"
    log = rig.log(job_id)
    assert f"pwd\n{rig.job_home(job_id)}/work/sub\n" in log
    assert "from-export / it's quoted\n" in log
    assert "greet function\nhello function\n" in log
    assert "644\nKEY-CONTENT\n" in log  # the jobs API writes files with mode 0644
    assert "always: passed\n" in log
    assert "on-pass\n" in log
    assert "on-fail" not in log
    assert "Exporting GREETING\n" in log


def test_the_first_failing_command_fails_the_job_and_skips_the_rest(rig: Rig) -> None:
    job_id = rig.submit(
        ["echo one", "false", "echo never"],
        epilogue_always_commands=['echo "always: $SEMAPHORE_JOB_RESULT"'],
        epilogue_on_fail_commands=["echo on-fail"],
    )
    job = rig.wait(job_id)
    assert job["status"]["result"] == "FAILED"
    log = rig.log(job_id)
    assert "one\n" in log
    assert "never" not in log.replace("echo never", "")
    assert "echo never" not in log
    assert "always: failed\non-fail\n" in log.replace(
        'echo "always: $SEMAPHORE_JOB_RESULT"\n', ""
    ).replace("echo on-fail\n", "")


def test_stopping_a_job_kills_its_whole_process_tree(rig: Rig) -> None:
    job_id = rig.submit(["sleep 600 & echo $! > ~/background.pid", "sleep 600"])
    rig.wait(job_id, "RUNNING")
    pid_file = rig.job_home(job_id) / "background.pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    background = int(pid_file.read_text())
    assert rig.api.post(f"/api/v1alpha/jobs/{job_id}/stop").status_code == 200
    job = rig.wait(job_id, timeout=15)
    assert job["status"]["result"] == "STOPPED"
    assert job["status"]["result_reason"] == "stopped by admin"
    assert not alive(background)


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a container's init to reap it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


def test_log_output_arrives_complete_and_in_order(rig: Rig) -> None:
    job_id = rig.submit(["seq 1 20000", "printf 'no newline at the end'"])
    rig.wait(job_id)
    expected = "seq 1 20000\n" + "".join(f"{n}\n" for n in range(1, 20001))
    expected += "printf 'no newline at the end'\nno newline at the end"
    log = rig.log(job_id)
    assert log[log.index("seq 1 20000\n") :] == expected  # after the exported variables


def test_a_killed_agent_fails_its_job_within_the_lease(rig: Rig) -> None:
    job_id = rig.submit(["echo started", "sleep 600"])
    rig.wait(job_id, "RUNNING")
    # Killed only once it has surely run: a job whose agent dies before fetching it goes
    # back to the queue instead (it cannot have run), which is not what this test is about.
    deadline = time.monotonic() + FINISH_TIMEOUT
    while "started" not in rig.log(job_id):
        assert time.monotonic() < deadline, "the job never logged its first line"
        time.sleep(0.1)
    agent = rig.agents[0]
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    job = rig.wait(job_id, timeout=25)
    assert job["status"]["result"] == "FAILED"
    assert job["status"]["result_reason"].startswith("agent e2e-agent was lost")
    assert rig.api.get("/api/v1alpha/agents").json()["agents"] == []


def test_serve_runs_hosted_machine_jobs_on_its_embedded_agent(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(
        database_url, tmp_path / "data", extra_env={"BLOCKPOST_AGENTS": "1"}
    ).start()
    try:
        with server.admin_client() as api:
            project = api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "local"}, "spec": {"repository": {"url": "/srv/r"}}},
            ).json()
            created = api.post(
                "/api/v1alpha/jobs",
                json={
                    "metadata": {"name": "hosted"},
                    "spec": {
                        "project_id": project["metadata"]["id"],
                        "agent": {"machine": {"type": "e1-standard-2", "os_image": "ubuntu2004"}},
                        "commands": ["echo on the embedded agent"],
                    },
                },
            ).json()
            deadline = time.monotonic() + FINISH_TIMEOUT
            while time.monotonic() < deadline:
                job = api.get(f"/api/v1alpha/jobs/{created['metadata']['id']}").json()
                if job["status"]["state"] == "FINISHED":
                    break
                time.sleep(0.1)
            assert job["status"]["result"] == "PASSED"
            assert job["status"]["agent"]["name"].startswith("local-")
            assert "agents:    1 embedded, type s1-local" in server.output()
    finally:
        server.stop()
    assert server.process is not None
    assert server.process.returncode == 0, server.output()
    assert not processes_mentioning(str(server.jobs_dir)), "agents outlived serve"


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_checkout_clones_the_repository_at_the_sha_and_enters_it(rig: Rig, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README").write_text("first\n")
    git("add", "README", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    first = git("rev-parse", "HEAD", cwd=repo)
    (repo / "README").write_text("second\n")
    git("commit", "-q", "-am", "second", cwd=repo)
    env = {
        "SEMAPHORE_GIT_URL": f"file://{repo}",
        "SEMAPHORE_GIT_DIR": "app",
        "SEMAPHORE_GIT_BRANCH": "main",
        "SEMAPHORE_GIT_SHA": first,
        "SEMAPHORE_GIT_REF_TYPE": "branch",
        "SEMAPHORE_GIT_REF": "refs/heads/main",
    }
    job_id = rig.submit(
        ["checkout", "pwd", "cat README", "git rev-parse HEAD"],
        env_vars=[{"name": k, "value": v} for k, v in env.items()],
    )
    job = rig.wait(job_id)
    log = rig.log(job_id)
    assert job["status"]["result"] == "PASSED", log
    assert f"pwd\n{rig.job_home(job_id)}/app\n" in log
    assert "cat README\nfirst\n" in log
    assert f"git rev-parse HEAD\n{first}\n" in log


def test_checkout_without_its_variables_fails_and_says_which(rig: Rig) -> None:
    job_id = rig.submit(["unset SEMAPHORE_GIT_URL", "checkout"])
    assert rig.wait(job_id)["status"]["result"] == "FAILED"
    assert "[CHECKOUT ERROR] Some of these variables are unset:" in rig.log(job_id)


def test_the_server_stops_a_real_job_at_its_time_limit(rig: Rig, database_url: str) -> None:
    async def enqueue() -> str:
        db = Database(database_url)
        try:
            async with db.session() as session:
                job = await queue.enqueue(
                    session,
                    Wakeups(),
                    JobSpec(
                        name="slow",
                        agent_type="s1-e2e",
                        commands=["sleep 600"],
                        project_id=rig.project_id,
                        execution_time_limit=2,
                    ),
                )
                return job.id
        finally:
            await db.dispose()

    job_id = asyncio.run(enqueue())
    job = rig.wait(job_id, timeout=20)
    assert job["status"]["result"] == "STOPPED"
    assert job["status"]["result_reason"] == "execution time limit exceeded"
    started, finished = int(job["metadata"]["start_time"]), int(job["metadata"]["finish_time"])
    assert 2 <= finished - started <= 8


@pytest.mark.skipif(
    "postgresql" not in (os.environ.get("BLOCKPOST_DATABASE_URL") or ""),
    reason="replicas share wake-ups through PostgreSQL NOTIFY",
)
def test_a_job_posted_to_one_replica_wakes_an_agent_held_on_another(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    first = ServerProcess(database_url, tmp_path / "one").start()
    second = ServerProcess(database_url, tmp_path / "two").start()
    try:
        with first.admin_client() as api_one, second.admin_client() as api_two:
            project = api_two.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "replicas"}, "spec": {"repository": {"url": "/r"}}},
            ).json()
            token = api_one.post(
                "/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": "s1-rep"}}
            ).json()["status"]["registration_token"]
            agent = httpx.Client(base_url=first.url, timeout=30)
            agent_token = agent.post(
                "/api/v1/self_hosted_agents/register",
                json={"name": "held"},
                headers={"Authorization": f"Token {token}"},
            ).json()["token"]
            with ThreadPoolExecutor(1) as pool:
                started = time.monotonic()
                held = pool.submit(
                    agent.post,
                    "/api/v1/self_hosted_agents/sync",
                    json={"state": "waiting-for-jobs"},
                    headers={"Authorization": f"Token {agent_token}"},
                )
                time.sleep(0.5)
                created = api_two.post(
                    "/api/v1alpha/jobs",
                    json={
                        "metadata": {"name": "across"},
                        "spec": {
                            "project_id": project["metadata"]["id"],
                            "agent": {"machine": {"type": "s1-rep"}},
                            "commands": ["true"],
                        },
                    },
                ).json()
                answer = held.result(timeout=30).json()
                elapsed = time.monotonic() - started
            agent.close()
        assert (answer["action"], answer["job_id"]) == ("run-job", created["metadata"]["id"])
        assert elapsed < 5, "woken by NOTIFY, not by the 15 s hold running out"
    finally:
        first.stop()
        second.stop()


def agent_command(rig: Rig, *extra: str) -> list[str]:
    """A hand-run agent that takes its token from BLOCKPOST_AGENT_TOKEN, not argv."""
    return [sys.executable, "-m", "blockpost", "agent", "--url", rig.server.url, *extra]


def test_a_job_gets_none_of_the_agents_environment_but_what_the_operator_passes(
    rig: Rig, tmp_path: Path
) -> None:
    for agent in rig.agents:
        agent.terminate()
        agent.wait(timeout=15)
    env = {
        **os.environ,
        "BLOCKPOST_AGENT_TOKEN": rig.registration_token,
        "AGENT_ONLY_SECRET": "agent-only-value",
        "KEEP_ME": "kept-for-jobs",
    }
    command = agent_command(rig, "--name", "scrubbed", "--jobs-dir", str(rig.home))
    command += ["--pass-env", "KEEP_ME", "--pass-env", "BLOCKPOST_AGENT_TOKEN"]
    log = (tmp_path / "scrubbed.log").open("w")
    agent = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    rig.agents.append(agent)
    job_id = rig.submit(["env | sort"])
    job = rig.wait(job_id)
    output = rig.log(job_id)
    assert job["status"]["result"] == "PASSED", output
    assert "KEEP_ME=kept-for-jobs\n" in output
    assert "agent-only-value" not in output
    assert rig.registration_token not in output
    assert f"HOME={rig.job_home(job_id)}\n" in output
    assert rig.registration_token.encode() not in Path(f"/proc/{agent.pid}/cmdline").read_bytes()
    assert not rig.job_home(job_id).parent.exists(), "the job's directory outlived it"


def test_an_agent_without_a_registration_token_says_how_to_give_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BLOCKPOST_AGENT_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "blockpost", "agent", "--url", "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--token-file" in done.stderr
    assert "BLOCKPOST_AGENT_TOKEN" in done.stderr
    missing = subprocess.run(
        [*done.args, "--token-file", str(tmp_path / "absent")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode == 2
    assert "cannot read --token-file" in missing.stderr


def test_an_agent_whose_name_is_still_reserved_keeps_trying_until_it_gets_in(
    rig: Rig, tmp_path: Path
) -> None:
    """A 409 is something time mends: the agent backs off and tries again, never exits."""
    made = rig.api.post(
        "/api/v1alpha/self_hosted_agent_types",
        json={
            "metadata": {"name": "s1-reserved"},
            # long enough that a slow agent start (a loaded CI machine) still meets it
            "spec": {"agent_name_settings": {"release_after": 12}},
        },
    ).json()
    token = made["status"]["registration_token"]
    headers = {"Authorization": f"Token {token}"}
    first = httpx.post(
        f"{rig.server.url}/api/v1/self_hosted_agents/register",
        json={"name": "reserved-name"},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    disconnect = httpx.post(
        f"{rig.server.url}/api/v1/self_hosted_agents/disconnect",
        headers={"Authorization": f"Token {first.json()['token']}"},
    )
    assert disconnect.status_code == 200
    token_file = tmp_path / "reserved.token"
    token_file.write_text(token)
    log_path = tmp_path / "reserved.log"
    agent = subprocess.Popen(
        agent_command(rig, "--token-file", str(token_file), "--name", "reserved-name"),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    rig.agents.append(agent)
    deadline = time.monotonic() + 45
    while "registered as reserved-name" not in log_path.read_text():
        assert agent.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.2)
    assert "register answered 409" in log_path.read_text()
