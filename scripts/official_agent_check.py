"""Runs Semaphore's official agent (a binary you built or downloaded) against a fresh
blockpost server and prints what works: registration, a pipeline's environment, secrets and
files, a failing job with its epilogues, a stop, and the agent's goodbye.

Usage: scripts/official-agent-check PATH/TO/agent   (not run by CI: it needs that binary)
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

API = "/api/v1alpha"
ADMIN_PASSWORD = "official-agent-check"
SECRET_VALUE = "s3cr3t-from-a-secret"
PIPELINE = """\
version: v1.0
name: Official agent check
agent:
  machine:
    type: s1-official
global_job_config:
  env_vars:
    - name: FROM_YAML
      value: yaml-value
blocks:
  - name: Environment
    task:
      secrets:
        - name: check-secret
      jobs:
        - name: env and files
          commands:
            - 'test "$FROM_YAML" = yaml-value'
            - 'test "$API_KEY" = "{secret}"'
            - 'test "$(cat ~/.check/key)" = key-content'
            - 'test "$SEMAPHORE_JOB_NAME" = "env and files"'
            - 'test -n "$SEMAPHORE_PIPELINE_ID" && test -n "$SEMAPHORE_GIT_SHA"'
            - echo environment-ok
  - name: Failure
    task:
      jobs:
        - name: fails
          commands:
            - echo before-failure
            - "false"
            - echo never-printed
      epilogue:
        always:
          commands:
            - 'echo "always: $SEMAPHORE_JOB_RESULT"'
        on_fail:
          commands:
            - echo on-fail-ran
"""
STOPPED = """\
version: v1.0
name: Stop check
agent:
  machine:
    type: s1-official
blocks:
  - name: Long
    task:
      jobs:
        - name: sleeps
          commands:
            - echo sleeping
            - sleep 300
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=check", "-c", "user.email=check@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


class Check:
    def __init__(self, agent_binary: Path, work: Path) -> None:
        self.agent_binary = agent_binary
        self.work = work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.results: list[tuple[str, bool, str]] = []
        self.server: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self.api = httpx.Client(base_url=self.url, timeout=30)

    def record(self, name: str, passed: bool, detail: str = "") -> None:
        self.results.append((name, passed, detail))
        print(f"{'PASS' if passed else 'FAIL'}  {name}{f'  ({detail})' if detail else ''}")

    def start_server(self) -> None:
        env = {
            **os.environ,
            "BLOCKPOST_DATA_DIR": str(self.work / "data"),
            "BLOCKPOST_PORT": str(self.port),
            "BLOCKPOST_AGENTS": "0",
            "BLOCKPOST_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "BLOCKPOST_ALLOW_LOCAL_REPOSITORIES": "true",
            # The official agent reports a SIGTERM only when its held sync returns.
            "BLOCKPOST_SYNC_HOLD_SECONDS": "3",
        }
        env.pop("BLOCKPOST_DATABASE_URL", None)
        log = (self.work / "server.log").open("wb")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "blockpost", "serve"], env=env, stdout=log, stderr=log
        )
        self.wait_for(lambda: self._healthy(), 30, "the server did not start")
        assert self.api.post(
            "/api/auth/login", json={"auth": "admin", "password": ADMIN_PASSWORD}
        ).is_success
        token = self.api.post("/api/user/tokens").json()["id"]
        self.api.headers["Authorization"] = f"Token {token}"

    def _healthy(self) -> bool:
        try:
            return self.api.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    @staticmethod
    def wait_for(condition: Callable[[], bool], seconds: float, message: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(message)
            time.sleep(0.2)

    def start_agent(self) -> None:
        made = self.api.post(
            f"{API}/self_hosted_agent_types", json={"metadata": {"name": "s1-official"}}
        )
        token = made.json()["status"]["registration_token"]
        command = [str(self.agent_binary), "start", "--endpoint", f"127.0.0.1:{self.port}"]
        command += ["--token", token, "--no-https", "--name", "official-agent-check"]
        env = {**os.environ, "SEMAPHORE_AGENT_LOG_FILE_PATH": str(self.work / "agent_log")}
        log = (self.work / "agent.out").open("wb")
        self.agent = subprocess.Popen(
            command, cwd=self.work, env=env, stdout=log, stderr=log, start_new_session=True
        )

        def registered() -> bool:
            agents = self.api.get(f"{API}/agents", params={"agent_type": "s1-official"}).json()
            return bool(agents["agents"])

        try:
            self.wait_for(registered, 30, "no registration within 30 s")
            self.record("the agent registers", True)
        except TimeoutError as exc:
            self.record("the agent registers", False, str(exc))
            raise

    def project(self) -> str:
        repo = self.work / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "master")
        (repo / ".semaphore").mkdir()
        (repo / ".semaphore" / "semaphore.yml").write_text(
            PIPELINE.replace("{secret}", SECRET_VALUE)
        )
        (repo / ".semaphore" / "stop.yml").write_text(STOPPED)
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "check")
        created = self.api.post(
            f"{API}/projects",
            json={
                "metadata": {"name": "official-check"},
                "spec": {"repository": {"url": str(repo)}},
            },
        )
        secret = self.api.post(
            "/api/v1beta/secrets",
            json={
                "metadata": {"name": "check-secret"},
                "data": {
                    "env_vars": [{"name": "API_KEY", "value": SECRET_VALUE}],
                    "files": [
                        {"path": ".check/key", "content": base64.b64encode(b"key-content").decode()}
                    ],
                },
            },
        )
        assert secret.is_success, secret.text
        return str(created.json()["metadata"]["id"])

    def run(self, project: str, pipeline_file: str) -> str:
        started = self.api.post(
            f"{API}/plumber-workflows",
            json={
                "project_id": project,
                "reference": "refs/heads/master",
                "pipeline_file": pipeline_file,
            },
        )
        assert started.is_success, started.text
        return str(started.json()["pipeline_id"])

    def pipeline(self, ppl_id: str) -> dict:
        return dict(self.api.get(f"{API}/pipelines/{ppl_id}", params={"detailed": "true"}).json())

    def jobs(self, ppl_id: str) -> dict[str, dict]:
        return {j["name"]: j for b in self.pipeline(ppl_id)["blocks"] for j in b["jobs"]}

    def log(self, job_id: str) -> str:
        return self.api.get(f"/jobs/{job_id}/plain_logs.json").text

    def check_pipeline(self, project: str) -> None:
        ppl = self.run(project, ".semaphore/semaphore.yml")
        self.wait_for(lambda: self.pipeline(ppl)["pipeline"]["state"] == "done", 120, "not done")
        jobs = self.jobs(ppl)
        env_job, failing = jobs["env and files"], jobs["fails"]
        env_log, fail_log = self.log(env_job["job_id"]), self.log(failing["job_id"])
        self.record(
            "env vars, secrets and files reach the job",
            env_job["result"] == "PASSED" and "environment-ok" in env_log,
            env_job["result"],
        )
        self.record("a secret's value is masked in the log", SECRET_VALUE not in env_log)
        self.record(
            "a failing command fails the job and skips the rest",
            failing["result"] == "FAILED"
            and "before-failure" in fail_log
            and "never-printed\n" not in fail_log.replace("echo never-printed\n", ""),
            failing["result"],
        )
        self.record(
            "epilogues run with SEMAPHORE_JOB_RESULT",
            "always: failed" in fail_log and "on-fail-ran" in fail_log,
        )
        result = self.pipeline(ppl)["pipeline"]["result"]
        self.record("the pipeline fails", result == "failed", result)

    def check_stop(self, project: str) -> None:
        ppl = self.run(project, ".semaphore/stop.yml")

        def sleeping() -> bool:
            jobs = self.jobs(ppl)
            return "sleeps" in jobs and "sleeping" in self.log(jobs["sleeps"]["job_id"])

        self.wait_for(sleeping, 60, "the job never started")
        stopped_at = time.monotonic()
        self.api.patch(f"{API}/pipelines/{ppl}", json={"terminate_request": True})
        self.wait_for(lambda: self.pipeline(ppl)["pipeline"]["state"] == "done", 60, "not done")
        job = self.jobs(ppl)["sleeps"]
        self.record(
            "terminating the pipeline stops the running job",
            job["result"] == "STOPPED",
            f"{job['result']} after {time.monotonic() - stopped_at:.1f} s",
        )

    def check_goodbye(self) -> None:
        assert self.agent is not None
        os.killpg(self.agent.pid, signal.SIGTERM)
        try:
            code = self.agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
        agents = self.api.get(f"{API}/agents", params={"agent_type": "s1-official"}).json()
        self.record(
            "on SIGTERM the agent disconnects and exits",
            code == 0 and not agents["agents"],
            f"exit code {code}",
        )

    def stop(self) -> None:
        for process in (self.agent, self.server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agent", type=Path, help="the official agent binary")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="official-agent-check-"))
    check = Check(args.agent.resolve(), work)
    try:
        check.start_server()
        check.start_agent()
        project = check.project()
        check.check_pipeline(project)
        check.check_stop(project)
        check.check_goodbye()
    except (TimeoutError, AssertionError, httpx.HTTPError) as exc:
        check.record("the check ran to the end", False, str(exc) or type(exc).__name__)
    finally:
        check.stop()
    failed = [name for name, passed, _ in check.results if not passed]
    print(f"\n{len(check.results) - len(failed)} passed, {len(failed)} failed")
    print(f"logs: {work}" if args.keep or failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
