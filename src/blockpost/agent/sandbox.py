"""How the agent isolates a job: a bubblewrap sandbox, another OS user, or nothing."""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

# What a sandboxed job sees of the host, read-only: the system, never home directories,
# /var, /srv or wherever the server keeps its state.
SYSTEM_DIRS = ("/usr", "/etc", "/opt")
# On merged-/usr systems these are symlinks into /usr; elsewhere real directories.
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
PROBE_TIMEOUT = 10.0
# How an agent started by `serve` gets its registration token: never in argv, where every
# local user could read it.
AGENT_TOKEN_VARIABLE = "BLOCKPOST_AGENT_TOKEN"


class SandboxMode(StrEnum):
    AUTO = "auto"
    BWRAP = "bwrap"
    NONE = "none"


class SandboxUnavailable(Exception):
    """`bwrap` was asked for but cannot run here; the message says why."""


@dataclass(frozen=True)
class JobUser:
    """The OS account a job runs as when the agent itself runs as root."""

    name: str
    uid: int
    gid: int

    @classmethod
    def named(cls, name: str) -> JobUser:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise SandboxUnavailable(f"job user {name!r} does not exist") from None
        if entry.pw_uid == 0:
            raise SandboxUnavailable(f"job user {name!r} is root: jobs would own the machine")
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def popen(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _probe_bwrap(user: JobUser | None) -> str | None:
    """None when a minimal sandbox starts here (and drops to `user`), else why not."""
    binary = shutil.which("bwrap")
    if binary is None:
        return "bwrap is not installed"
    if user is not None and shutil.which("setpriv") is None:
        return f"setpriv (util-linux) is not installed: jobs cannot switch to user {user.name}"
    command = [binary, "--ro-bind", "/", "/", *_namespaces(user)]
    command += ["--proc", "/proc", "--dev", "/dev", *_drop_to(user), "true"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap cannot start: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot start: {done.stderr.decode(errors='replace').strip()}"
    return None


def resolve(mode: SandboxMode, user: JobUser | None) -> tuple[SandboxMode, str]:
    """BWRAP or NONE: what `mode` means on this machine (AUTO picks bwrap when it works),
    and, when AUTO found no sandbox, why."""
    if mode is SandboxMode.NONE:
        return mode, ""
    problem = _probe_bwrap(user)
    if problem is None:
        return SandboxMode.BWRAP, ""
    if mode is SandboxMode.BWRAP:
        raise SandboxUnavailable(problem)
    return SandboxMode.NONE, problem


def isolation_for(
    mode: SandboxMode, job_user: str, hide: tuple[Path, ...]
) -> tuple[Isolation, str]:
    """The isolation this agent can give its jobs, and a line saying which it is.
    `job_user` counts only when the agent runs as root (nobody else can switch users)."""
    user = JobUser.named(job_user) if job_user and os.geteuid() == 0 else None
    resolved, problem = resolve(mode, user)
    isolation = Isolation(sandbox=resolved is SandboxMode.BWRAP, user=user, hide=hide)
    line = isolation.describe()
    if problem:
        line += f" ({problem})"
    if not isolation.sandbox and user is None:
        line += ": a job can read what this user can read and see its processes"
    return isolation, line


@dataclass(frozen=True)
class Isolation:
    """How each job's bash is started: which user, inside which sandbox, seeing what."""

    sandbox: bool = False
    user: JobUser | None = None
    hide: tuple[Path, ...] = ()  # never visible in the sandbox, even under a readable path
    readable: tuple[Path, ...] = ()  # more host paths every job may read

    def describe(self) -> str:
        who = f"as user {self.user.name}" if self.user else "as the agent's own user"
        if self.sandbox:
            return f"jobs run in a bubblewrap sandbox {who}"
        return f"jobs run without a sandbox {who}"

    def popen(self) -> dict[str, Any]:
        """Without a sandbox the agent starts the job's shell as the job user itself; a
        sandbox starts as the agent (it must reach the paths it binds) and drops inside."""
        return self.user.popen() if self.user and not self.sandbox else {}

    def command(self, argv: list[str], workspace: Path, extra: tuple[Path, ...] = ()) -> list[str]:
        """`argv`, wrapped in bwrap when the sandbox is on: the system read-only, `extra`
        read-only, the hidden paths covered, `workspace` the only writable host path."""
        if not self.sandbox:
            return argv
        args = ["bwrap", "--die-with-parent", *_namespaces(self.user)]
        args += ["--hostname", "blockpost-job"]
        shown = [Path(d) for d in SYSTEM_DIRS if os.path.isdir(d)]
        for link in SYSTEM_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                shown.append(Path(link))
        system = list(shown)
        for path in system:
            args += ["--ro-bind", str(path), str(path)]
        args += _resolver_binds()
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
        for path in (p.resolve() for p in (*self.readable, *extra) if p.exists()):
            args += [*_passable_parents(path, system), "--ro-bind", str(path), str(path)]
            shown.append(path)
        for hidden in (path.resolve() for path in self.hide):
            if any(hidden.is_relative_to(path) for path in shown):
                args += _masked(hidden)
        # Start in /: root without its capabilities may not enter the job user's 0700
        # workspace before setpriv switches; the shell's first command is `cd ~`.
        args += _passable_parents(workspace, system)
        args += ["--bind", str(workspace), str(workspace), "--chdir", "/"]
        return [*args, *_drop_to(self.user), *argv]


def _passable_parents(path: Path, system: list[Path]) -> list[str]:
    """bwrap makes a bind's missing parents with the modes of the host's; a 0700 parent
    there (a temp dir, a home) would shut the job user out of its own workspace."""
    args: list[str] = []
    for parent in reversed(path.parents):
        if parent != Path("/") and not any(parent.is_relative_to(p) for p in system):
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _namespaces(user: JobUser | None) -> list[str]:
    """New process, IPC, host name and cgroup namespaces; the network stays the host's (jobs
    fetch code and packages). Unprivileged bwrap needs a user namespace too; root must not
    take one, which would map no user but root for setpriv to switch to."""
    if user is None:
        return ["--unshare-all", "--share-net"]
    return ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]


def _drop_to(user: JobUser | None) -> list[str]:
    """Inside a sandbox started by root: keep only what switching users takes, switch, and
    so lose that too (bwrap also sets no_new_privs: no setuid program regains root)."""
    if user is None:
        return []
    return [
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CAP_SETUID",
        "--cap-add",
        "CAP_SETGID",
        "setpriv",
        f"--reuid={user.uid}",
        f"--regid={user.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--",
    ]


def check_jobs_dir(jobs_dir: Path, isolation: Isolation) -> None:
    """Makes the jobs dir; without a sandbox, a job user must be able to reach it."""
    jobs_dir.mkdir(parents=True, exist_ok=True)
    jobs_dir.chmod(0o711)
    if isolation.user is None or isolation.sandbox:
        return
    blocked = _unreachable(jobs_dir / "job", isolation.user)
    if blocked is not None:
        raise SandboxUnavailable(
            f"jobs run as user {isolation.user.name}, who cannot enter {blocked} on the way "
            f"to the jobs dir {jobs_dir}: choose a jobs dir that user can reach"
        )


def _unreachable(path: Path, user: JobUser) -> Path | None:
    """The first directory on the way to `path` that `user` may not pass through."""
    for directory in reversed(path.resolve().parents):
        info = directory.stat()
        if info.st_uid == user.uid:
            allowed = info.st_mode & 0o100
        elif info.st_gid == user.gid:
            allowed = info.st_mode & 0o010
        else:
            allowed = info.st_mode & 0o001
        if not allowed:
            return directory
    return None


def _resolver_binds() -> list[str]:
    """/etc/resolv.conf is often a symlink into /run, which the sandbox does not show."""
    target = Path("/etc/resolv.conf").resolve()
    if str(target).startswith("/etc/") or not target.exists():
        return []
    return ["--ro-bind", str(target), str(target)]


def _masked(path: Path) -> list[str]:
    """Covers `path`, which a read-only bind showed, with an empty directory or file."""
    if path.is_dir():
        return ["--tmpfs", str(path)]
    if path.exists():
        return ["--ro-bind", "/dev/null", str(path)]
    return []


def local_repository(payload: dict[str, Any]) -> tuple[Path, ...]:
    """The job's repository when it is a directory on this machine (a server that allows
    local repositories): the sandbox must show it for `checkout` to clone it."""
    url = ""
    for variable in payload.get("env_vars") or []:
        if variable.get("name") == "SEMAPHORE_GIT_URL":
            url = base64.b64decode(variable.get("value", "")).decode("utf-8", "replace")
    path = url.removeprefix("file://")
    if not path.startswith("/") or not os.path.isdir(path):
        return ()
    return (Path(path),)
