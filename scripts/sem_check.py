"""Runs Semaphore's `sem` CLI (a binary you built) against a fresh blockpost server serving
HTTPS with a self-signed certificate, and prints which commands work.

Usage: scripts/sem-check PATH/TO/sem [--keep]   (not run by CI: it needs that binary)
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

API = "/api/v1alpha"
ADMIN_PASSWORD = "sem-check"
PROJECT = "sem-check"
COMMAND_TIMEOUT = 60
PIPELINE = """\
version: v1.0
name: sem check
agent:
  machine:
    type: e1-standard-2
    os_image: ubuntu2004
blocks:
  - name: Hello
    task:
      jobs:
        - name: hello
          commands:
            - echo hello-from-sem-check
  - name: Failing
    task:
      jobs:
        - name: fails
          commands:
            - "false"
"""
PROJECT_YAML = """\
apiVersion: v1alpha
kind: Project
metadata:
  name: {name}
spec:
  repository:
    url: {url}
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


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, as an operator makes one with openssl."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, key_file = folder / "server.crt", folder / "server.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key_file


@dataclass(frozen=True)
class Step:
    args: list[str]
    expect: str = ""  # text the output must hold, besides exit code 0
    cwd: Path | None = None


class Check:
    def __init__(self, sem: Path, work: Path) -> None:
        self.sem = sem
        self.work = work
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.cert, self.key = self_signed(work)
        self.results: list[tuple[str, bool, str]] = []
        self.server: subprocess.Popen[bytes] | None = None
        self.api = httpx.Client(
            base_url=f"https://{self.host}",
            timeout=30,
            verify=ssl.create_default_context(cafile=str(self.cert)),
        )
        self.home = work / "home"
        self.home.mkdir()
        self.ids: dict[str, str] = {}

    def record(self, name: str, passed: bool, detail: str = "") -> None:
        self.results.append((name, passed, detail))
        print(f"{'PASS' if passed else 'FAIL'}  {name}{f'  ({detail})' if detail else ''}")

    def start_server(self) -> str:
        """Starts the server with one embedded agent; an API token of admin's."""
        env = {
            **os.environ,
            "BLOCKPOST_DATA_DIR": str(self.work / "data"),
            "BLOCKPOST_PORT": str(self.port),
            "BLOCKPOST_AGENTS": "1",
            "BLOCKPOST_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "BLOCKPOST_ALLOW_LOCAL_REPOSITORIES": "true",
            "BLOCKPOST_TLS_CERT": str(self.cert),
            "BLOCKPOST_TLS_KEY": str(self.key),
        }
        env.pop("BLOCKPOST_DATABASE_URL", None)
        log = (self.work / "server.log").open("wb")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "blockpost", "serve"], env=env, stdout=log, stderr=log
        )
        self.wait_for(self._healthy, 30, "the server did not start")
        assert self.api.post(
            "/api/auth/login", json={"auth": "admin", "password": ADMIN_PASSWORD}
        ).is_success
        token = str(self.api.post("/api/user/tokens").json()["id"])
        self.api.headers["Authorization"] = f"Token {token}"

        def agent_registered() -> bool:
            return bool(self.api.get(f"{API}/agents").json()["agents"])

        self.wait_for(agent_registered, 30, "the embedded agent did not register")
        return token

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

    def sem_run(self, step: Step) -> None:
        """Runs `sem ARGS` as a user does: its config in HOME, the certificate trusted through
        SSL_CERT_FILE (which Go honours), an editor that saves the file unchanged."""
        name = " ".join(step.args)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "SSL_CERT_FILE": str(self.cert),
            "EDITOR": "true",
        }
        try:
            done = subprocess.run(
                [str(self.sem), *step.args],
                env=env,
                cwd=step.cwd or self.work,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            self.record(name, False, f"no answer in {COMMAND_TIMEOUT} s")
            return
        output = (done.stdout + done.stderr).strip()
        with (self.work / "sem.log").open("a") as log:
            log.write(f"$ sem {name}\n{output}\n(exit {done.returncode})\n\n")
        passed = done.returncode == 0 and step.expect in output
        first_line = output.splitlines()[0][:100] if output else ""
        self.record(name, passed, "" if passed else f"exit {done.returncode}: {first_line}")

    def repository(self) -> Path:
        repo = self.work / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "master")
        (repo / ".semaphore").mkdir()
        (repo / ".semaphore" / "semaphore.yml").write_text(PIPELINE)
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "check")
        (self.work / "project.yml").write_text(PROJECT_YAML.format(name=PROJECT, url=repo))
        return repo

    def run_pipeline(self) -> None:
        """A finished pipeline for the commands that take pipeline, workflow and job ids."""
        started = self.api.post(
            f"{API}/plumber-workflows",
            json={"project_id": PROJECT, "reference": "refs/heads/master"},
        )
        assert started.is_success, started.text
        self.ids["wf"] = started.json()["workflow_id"]
        self.ids["ppl"] = ppl = started.json()["pipeline_id"]

        def pipeline() -> dict:
            return dict(self.api.get(f"{API}/pipelines/{ppl}", params={"detailed": "true"}).json())

        self.wait_for(lambda: pipeline()["pipeline"]["state"] == "done", 60, "not done")
        # The passing job; the failing one lets `rebuild pipeline` rerun it.
        self.ids["job"] = pipeline()["blocks"][0]["jobs"][0]["job_id"]

    def steps_before_pipeline(self, token: str, repo: Path) -> list[Step]:
        return [
            Step(["connect", self.host, token], "connected"),
            Step(["context"], self.host.replace(".", "_")),
            Step(["create", "-f", str(self.work / "project.yml")], PROJECT),
            Step(["get", "projects"], PROJECT),
            Step(["get", "project", PROJECT], str(repo)),
            Step(["apply", "-f", str(self.work / "project.yml")]),
            Step(["edit", "project", PROJECT]),
            Step(["create", "secret", "x", "-e", "A=B"], "x"),
            Step(["get", "secrets"], "x"),
            Step(["get", "secret", "x"], "A"),
            Step(["edit", "secret", "x"]),
            Step(["create", "secret", "px", "-p", PROJECT, "-e", "C=D"], "px"),
            Step(["get", "secrets", "-p", PROJECT], "px"),
            Step(["get", "agent_types"], "s1-local"),
            Step(["create", "agent_type", "s1-sem-check"], "s1-sem-check"),
            Step(["get", "agent_type", "s1-sem-check"], "s1-sem-check"),
            Step(["delete", "agent_type", "s1-sem-check"]),
            Step(["get", "agents"], "local-"),
            Step(["create", "job", "sem-job", "-p", PROJECT, "-c", "echo from-sem-job"], "created"),
            Step(["get", "jobs"]),
            Step(["get", "jobs", "--all"], "sem-job"),
        ]

    def steps_after_pipeline(self, repo: Path) -> list[Step]:
        ppl, wf, job = self.ids["ppl"], self.ids["wf"], self.ids["job"]
        return [
            Step(["get", "pipelines", "-p", PROJECT], ppl),
            Step(["get", "pipeline", ppl], "hello"),
            Step(["get", "workflows", "-p", PROJECT], wf),
            Step(["get", "workflow", wf, "-p", PROJECT], ppl),
            Step(["get", "job", job], "hello"),
            Step(["logs", job], "hello-from-sem-check"),
            Step(["troubleshoot", "pipeline", ppl], ppl),
            Step(["troubleshoot", "workflow", wf], wf),
            Step(["troubleshoot", "job", job], job),
            Step(["rebuild", "pipeline", ppl]),
            Step(["rebuild", "workflow", wf]),
            Step(["stop", "pipeline", ppl]),
            Step(["stop", "workflow", wf]),
            Step(["create", "workflow", "-p", PROJECT], "", repo),
            Step(["create", "dt", "production", "-p", PROJECT, "-d", "sem check"], "production"),
            Step(["get", "dt", "-p", PROJECT], "production"),
            Step(["get", "dt", "production", "-p", PROJECT], "production"),
            Step(
                [
                    "create",
                    "notification",
                    "sem-notif",
                    # No pipeline matches and the name never resolves: nothing is sent.
                    "--projects",
                    "no-such-project",
                    "--webhook-endpoint",
                    "https://hooks.example.invalid/sem-check",
                ],
                "sem-notif",
            ),
            Step(["get", "notifications"], "sem-notif"),
            Step(["get", "notification", "sem-notif"], "sem-notif"),
            Step(["delete", "notification", "sem-notif"]),
            Step(["create", "dashboard", "sem-dash"], "sem-dash"),
            Step(["get", "dashboards"], "sem-dash"),
            Step(["delete", "dashboard", "sem-dash"]),
            Step(["get", "tasks", "-p", PROJECT]),
            Step(["delete", "secret", "x"]),
            Step(["delete", "project", PROJECT]),
        ]

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sem", type=Path, help="the sem CLI binary")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sem-check-"))
    # Run as root, the embedded agent runs jobs as another user, who must reach the jobs dir
    # and the repository in here.
    work.chmod(0o711)
    check = Check(args.sem.resolve(), work)
    try:
        token = check.start_server()
        repo = check.repository()
        for step in check.steps_before_pipeline(token, repo):
            check.sem_run(step)
        check.run_pipeline()
        for step in check.steps_after_pipeline(repo):
            check.sem_run(step)
    except (TimeoutError, AssertionError, httpx.HTTPError, KeyError, IndexError) as exc:
        check.record("the check ran to the end", False, str(exc) or type(exc).__name__)
    finally:
        check.stop()
    failed = [name for name, passed, _ in check.results if not passed]
    print(f"\n{len(check.results) - len(failed)} passed, {len(failed)} failed")
    print(f"logs: {work}" if args.keep or failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
