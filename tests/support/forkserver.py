"""Starts `blockpost serve` processes for end-to-end tests by forking a process that has
already imported blockpost, instead of starting a new interpreter each time.

Importing the server costs ~3 s of CPU; the suite starts well over a hundred servers per
back end, and on a 2-core CI machine that was a third of the run. Each forked child is a
real server process of its own (its own environment, working directory, output file,
signals and exit status): it runs the same `blockpost.cli.main` as `python -m blockpost`.
BLOCKPOST_TEST_FORKSERVER=0 starts a new interpreter per server instead.

The fork server is this file run as a script, one per test process. Requests are JSON
lines on its stdin; it answers `started ID PID` and, when a child ends, `exited PID CODE`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

ENABLED = os.environ.get("BLOCKPOST_TEST_FORKSERVER", "1") != "0"


class ForkedProcess:
    """The parts of subprocess.Popen the tests use, for a child of the fork server."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"blockpost process {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # ended; its exit line is coming
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _Client:
    def __init__(self) -> None:
        self._server = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()
        self._next_id = 0
        self._started: dict[int, tuple[threading.Event, list[int]]] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}
        threading.Thread(target=self._read, daemon=True, name="forkserver").start()
        atexit.register(self.close)

    def _read(self) -> None:
        assert self._server.stdout is not None
        for line in self._server.stdout:
            kind, first, second = line.split()
            with self._lock:
                if kind == "started":
                    event, pid = self._started.pop(int(first))
                    pid.append(int(second))
                    event.set()
                elif (child := self._children.pop(int(first), None)) is not None:
                    child._exited(int(second))
                else:  # ended before spawn() registered it
                    self._early_exits[int(first)] = int(second)
        with self._lock:  # the fork server is gone: so is any spawn waiting on it
            for event, _ in self._started.values():
                event.set()

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path, output: Path) -> ForkedProcess:
        event, pid = threading.Event(), []
        with self._lock:
            self._next_id += 1
            request = {"id": self._next_id, "argv": argv, "env": env, "cwd": str(cwd)}
            self._started[self._next_id] = (event, pid)
            assert self._server.stdin is not None
            self._server.stdin.write(json.dumps({**request, "output": str(output)}) + "\n")
            self._server.stdin.flush()
        if not event.wait(30) or not pid:
            raise RuntimeError("the test fork server did not start a process")
        child = ForkedProcess(pid[0])
        with self._lock:
            if pid[0] in self._early_exits:
                child._exited(self._early_exits.pop(pid[0]))
            else:
                self._children[pid[0]] = child
        return child

    def close(self) -> None:
        if self._server.stdin is not None and not self._server.stdin.closed:
            self._server.stdin.close()
        try:
            self._server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._server.kill()


_client: _Client | None = None


def spawn_blockpost(argv: list[str], env: dict[str, str], cwd: Path, output: Path) -> ForkedProcess:
    """`python -m blockpost ARGV` with exactly this environment, its stdout and stderr
    appended to `output`."""
    global _client
    if _client is None:
        _client = _Client()
    return _client.spawn(argv, env, cwd, output)


def _child(request: dict, wakeup: tuple[int, int]) -> int:
    """In the forked child: become the process `python -m blockpost ARGV` would be."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in wakeup:
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    # New stream objects: the inherited ones may hold a lock taken before the fork.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [sys.argv[0], *request["argv"]]
    from blockpost.cli import main

    return main(request["argv"])


def _serve() -> int:
    """The fork server's loop: fork on each request, report each child's end."""
    # The point of this process: what every server imports, imported once before any fork.
    for module in ("blockpost.app", "blockpost.commands.admin", "blockpost.serve"):
        importlib.import_module(module)

    wakeup = os.pipe()
    os.set_blocking(wakeup[1], False)
    signal.set_wakeup_fd(wakeup[1])
    signal.signal(signal.SIGCHLD, lambda *_: None)
    requests = sys.stdin.buffer
    pending = b""
    while True:
        readable, _, _ = select.select([requests.fileno(), wakeup[0]], [], [])
        if wakeup[0] in readable:
            os.read(wakeup[0], 4096)
            _report_ended()
        if requests.fileno() not in readable:
            continue
        chunk = os.read(requests.fileno(), 65536)
        if not chunk:
            return 0
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                return _child(request, wakeup)
            print(f"started {request['id']} {pid}", flush=True)
        _report_ended()


def _report_ended() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        print(f"exited {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    raise SystemExit(_serve())
