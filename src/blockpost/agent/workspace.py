"""A job's own directory (home, temp, the agent's control files) and the environment it
starts from: built from nothing, so a job never inherits the agent's or server's secrets."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from blockpost.agent.sandbox import JobUser

CHECKOUT = Path(__file__).with_name("checkout.sh")
TOOLBOX = Path(__file__).with_name("toolbox")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def default_jobs_dir() -> Path:
    return Path(tempfile.gettempdir()) / "blockpost-jobs"


class Workspace:
    """`<jobs dir>/<job id>`, mode 0700 and owned by the job's user:
    `home/` is HOME and where commands start, `tmp/` is TMPDIR, and `control/` holds the
    scripts the agent feeds the job's shell (owned by the agent, so a job cannot swap them)."""

    def __init__(self, jobs_dir: Path, job_id: str, user: JobUser | None) -> None:
        self.root = jobs_dir.resolve() / job_id
        self.home = self.root / "home"
        self.tmp = self.root / "tmp"
        self.control = self.root / "control"
        # A copy of the toolbox, where a sandbox or a container sees it like the rest of
        # the control dir; its bin/ leads the job's PATH.
        self.toolbox = self.control / "toolbox"
        self.user = user

    def create(self) -> None:
        self.root.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.remove()
        self.root.mkdir(mode=0o700)
        self.home.mkdir(mode=0o700)
        self.tmp.mkdir(mode=0o700)
        self.control.mkdir(mode=0o755)
        if self.user is not None:
            for path in (self.root, self.home, self.tmp):
                os.chown(path, self.user.uid, self.user.gid)
        shutil.copyfile(CHECKOUT, self.control / "checkout.sh")
        shutil.copytree(
            TOOLBOX, self.toolbox, ignore=shutil.ignore_patterns("__pycache__", "ruff.toml")
        )
        for path in (self.toolbox, *self.toolbox.rglob("*")):
            path.chmod(0o755 if path.is_dir() or path.parent.name == "bin" else 0o644)

    def trust(self, repositories: tuple[Path, ...]) -> None:
        """git refuses to read a repository another user owns (safe.directory): a job run
        as its own user may still clone the local repository it was given."""
        if not repositories:
            return
        entries = "".join(
            f"\tdirectory = {path}\n\tdirectory = {path}/.git\n" for path in repositories
        )
        config = self.home / ".gitconfig"
        config.write_text(f"[safe]\n{entries}")
        if self.user is not None:
            os.chown(config, self.user.uid, self.user.gid)

    def write(self, name: str, data: bytes) -> Path:
        """A control file the job's shell may read (the workspace itself is 0700)."""
        path = self.control / name
        path.write_bytes(data)
        path.chmod(0o644)
        return path

    def remove(self) -> None:
        if not self.root.exists():
            return
        # A job may leave read-only directories behind; the agent still cleans up.
        for parent, directories, _files in os.walk(self.root):
            for name in directories:
                path = os.path.join(parent, name)
                if not os.path.islink(path):
                    os.chmod(path, 0o700)
        shutil.rmtree(self.root)


def base_environment(
    workspace: Workspace,
    user: JobUser | None,
    passed: Iterable[str] = (),
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """PATH, HOME, LANG, TERM, USER, SHELL and TMPDIR, plus the agent's variables named in
    `passed` (the operator's opt-in); nothing else of the agent's environment."""
    agent_env = os.environ if source is None else source
    env = {
        "PATH": agent_env.get("PATH") or DEFAULT_PATH,
        "HOME": str(workspace.home),
        "LANG": agent_env.get("LANG") or "C.UTF-8",
        "TERM": "xterm",
        "USER": user.name if user else _own_name(),
        "SHELL": "/bin/bash",
        "TMPDIR": str(workspace.tmp),
    }
    for name in passed:
        if name in agent_env:
            env[name] = agent_env[name]
    return env


def _own_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
