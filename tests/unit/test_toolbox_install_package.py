"""install-package: Semaphore's flags, and a clear error for a job with neither root nor
passwordless sudo (run as another user, as the agent runs jobs when it is root)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from blockpost.agent.toolbox import install_package

TOOLBOX = Path(install_package.__file__).parent


def test_update_flags_are_read_and_the_rest_goes_to_apt_get_install() -> None:
    assert install_package.parse(["mtr"]) == ("auto", ["mtr"])
    assert install_package.parse(["-u", "mtr=0.95-1", "-o", "APT::X=1"]) == (
        "force",
        ["mtr=0.95-1", "-o", "APT::X=1"],
    )
    assert install_package.parse(["--skip-update", "a", "b"]) == ("skip", ["a", "b"])
    assert install_package.parse(["a", "--update-new"]) == ("new", ["a"])


def test_no_package_prints_the_usage_and_fails() -> None:
    done = subprocess.run(
        [sys.executable, str(TOOLBOX / "run.py"), "install-package", "--update"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Usage: install-package [--update]" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the command as nobody, which needs root")
def test_a_job_without_root_or_sudo_is_told_why_before_apt_runs() -> None:
    nobody = pwd.getpwnam("nobody")
    # A copy nobody can reach, as the agent gives each job (a checkout may sit below a
    # directory only root can enter, like CI's clone in a mktemp directory).
    home = Path(tempfile.mkdtemp(prefix="blockpost-nobody-"))
    try:
        home.chmod(0o755)
        shutil.copytree(TOOLBOX, home / "toolbox", ignore=shutil.ignore_patterns("__pycache__"))
        done = subprocess.run(
            [str(home / "toolbox/bin/install-package"), "mtr"],
            capture_output=True,
            text=True,
            cwd=home,
            env={"PATH": os.environ["PATH"], "HOME": str(home), "USER": "nobody"},
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
        )
    finally:
        shutil.rmtree(home)
    assert done.returncode == 1
    assert "installing packages needs root or passwordless sudo; this job runs as nobody" in (
        done.stderr
    )
    assert ">> Installing packages" not in done.stdout
