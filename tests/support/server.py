"""A real `blockpost serve` process on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import forkserver

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable_jobs_dir() -> Path:
    """A jobs dir for embedded agents under the system temp dir: when the tests run as root
    without a sandbox, jobs run as another user, who must be able to reach it. Removed when
    the test process ends (servers restarted within a test keep it)."""
    path = Path(tempfile.mkdtemp(prefix="blockpost-test-jobs-"))
    path.chmod(0o711)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def let_jobs_reach(path: Path) -> None:
    """Lets a job user pass through `path` and the directories above it (no listing): as root
    without bubblewrap, jobs run as `nobody`, and pytest makes its temp dirs 0700, so a test's
    repository there could not be cloned by the job's `checkout`."""
    if os.geteuid() != 0:
        return
    top = Path(tempfile.gettempdir()).resolve()
    for directory in (path.resolve(), *path.resolve().parents):
        if directory == top or top not in directory.parents:
            break
        directory.chmod(directory.stat().st_mode | 0o011)


@dataclass
class ServerProcess:
    database_url: str
    data_dir: Path
    admin_password: str = "admin-password-1"
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    jobs_dir: Path = field(default_factory=reachable_jobs_dir)
    process: subprocess.Popen[str] | forkserver.ForkedProcess | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = {
            **os.environ,
            "BLOCKPOST_DATABASE_URL": self.database_url,
            "BLOCKPOST_DATA_DIR": str(self.data_dir),
            "BLOCKPOST_ADMIN_PASSWORD": self.admin_password,
            "BLOCKPOST_HOST": "127.0.0.1",
            "BLOCKPOST_PORT": str(self.port),
            "BLOCKPOST_AGENTS": "0",
            "BLOCKPOST_ALLOW_LOCAL_REPOSITORIES": "true",  # tests make their repositories here
            "BLOCKPOST_JOBS_DIR": str(self.jobs_dir),
            **self.extra_env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"server-{self.port}.log"
        if forkserver.ENABLED:
            self.log_path.write_text("")
            self.process = forkserver.spawn_blockpost(["serve"], env, Path.cwd(), self.log_path)
        else:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "blockpost", "serve"],
                env=env,
                stdout=self.log_path.open("w"),
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz in {START_TIMEOUT}s:\n{self.output()}")

    @contextmanager
    def admin_client(self) -> Iterator[httpx.Client]:
        """A client logged in as admin, holding a fresh API token."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            login = client.post(
                "/api/auth/login", json={"auth": "admin", "password": self.admin_password}
            )
            assert login.status_code == 204, login.text
            token = client.post("/api/user/tokens").json()["id"]
            client.headers["Authorization"] = f"Token {token}"
            yield client

    def embedded_agent_pids(self) -> list[int]:
        """The agent processes `serve` started (argv names this server's jobs dir)."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"agent" in argv and str(self.jobs_dir).encode() in argv:
                found.append(int(proc.name))
        return found

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
