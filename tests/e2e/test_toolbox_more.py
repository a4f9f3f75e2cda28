"""The rest of the job toolbox end to end (a real server and a real agent): sem-version,
sem-service and install-package as a job meets them on this machine, and `checkout`'s
shallow clone with SEMAPHORE_GIT_DEPTH."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from blockpost.agent import containers
from blockpost.agent.toolbox import sem_version
from blockpost.db.engine import Database
from tests.e2e.test_toolbox import done, pipeline, sandbox, why
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
API = "/api/v1alpha"
MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"


def run_workflow(api: httpx.Client, url: str) -> dict:
    project = api.post(
        f"{API}/projects",
        json={"metadata": {"name": "app"}, "spec": {"repository": {"url": url}}},
    ).json()["metadata"]["id"]
    started = api.post(
        f"{API}/plumber-workflows", json={"project_id": project, "reference": "refs/heads/master"}
    ).json()
    return done(api, started["pipeline_id"])


def job_python(path: str) -> str:
    """major.minor of the python3 a job with this PATH finds first."""
    found = shutil.which("python3", path=path)
    assert found is not None
    output = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    return ".".join(output.split()[1].split(".")[:2])


@pytest.mark.skipif(os.geteuid() != 0, reason="jobs run as another user (no sudo) only as root")
def test_a_job_without_root_engine_or_manager_gets_clear_failures_and_a_shallow_checkout(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "app")
    shas = [repo.commit({"n.txt": str(number)}, f"commit {number}") for number in range(60)]
    old = shas[9]
    commands = [
        # The PATH's python3 is the version asked for: nothing to switch.
        "PY=$(python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])')",
        'sem-version python "$PY" 2> same.log && grep -q "Switch successful." same.log',
        "sem-version python 2.6 2> none.log; [ $? -eq 1 ]",
        'grep -q "python 2.6 is not installed: this job\'s PATH has python3 $PY" none.log',
        "cat none.log",
        "sem-version python 2.6 --ignore 2> /dev/null",
        "sem-version cobol 1 2> /dev/null; [ $? -eq 1 ]",
        "sem-service start postgres 2> service.log; [ $? -eq 1 ]",
        "grep -q 'cannot start postgres: no container engine is available to this job' service.log",
        "sem-service status redis 2> /dev/null; [ $? -eq 1 ]",
        "sem-service start nosuch 2> bad.log; [ $? -eq 1 ] && grep -q \"support 'nosuch'\" bad.log",
        "install-package mtr > package.log 2>&1; [ $? -eq 1 ]",
        "grep -q 'installing packages needs root or passwordless sudo; this job runs as' "
        "package.log",
        # checkout: depth 50 unless SEMAPHORE_GIT_DEPTH says otherwise.
        "checkout > depth.log && grep -q 'Performing shallow clone with depth: 50' ~/depth.log",
        '[ "$(git rev-parse --is-shallow-repository)" = true ]',
        '[ "$(git rev-list --count HEAD)" = 50 ]',
        '[ "$(git rev-parse HEAD)" = "$SEMAPHORE_GIT_SHA" ]',
        'cd ~ && SEMAPHORE_GIT_DEPTH=5 checkout && [ "$(git rev-list --count HEAD)" = 5 ]',
        # A commit deeper than the depth: Semaphore's fallback fetches the whole history.
        f"cd ~ && export SEMAPHORE_GIT_SHA={old} SEMAPHORE_GIT_DEPTH=3",
        f"checkout > ~/old.log && grep -q 'SHA: {old} not found performing full clone' ~/old.log",
        f'[ "$(git rev-parse HEAD)" = {old} ] && [ "$(git rev-list --count HEAD)" = 10 ]',
        "echo TOOLBOX-CHECKED",
    ]
    repo.commit({".semaphore/semaphore.yml": pipeline("More", [("Checks", commands)])})
    server = ServerProcess(
        database_url,
        tmp_path / "data",
        extra_env={
            "BLOCKPOST_AGENTS": "1",
            "BLOCKPOST_JOB_SANDBOX": sandbox(),
            "BLOCKPOST_EMBEDDED_AGENT_USERS": "all",
        },
    )
    server.start()
    try:
        with server.admin_client() as api:
            finished = run_workflow(api, repo.url)
            assert finished["pipeline"]["result"] == "passed", why(api, finished)
            log = why(api, finished)
    finally:
        server.stop()
    assert "TOOLBOX-CHECKED" in log
    # The job's user (nobody) reaches no version manager of this machine's root.
    assert "no version manager that could switch it (mise, asdf, pyenv) is installed" in log


def pyenv_target(path: str) -> tuple[str, str] | None:
    """(pyenv's root, an installed python major.minor other than the PATH's), or None."""
    roots = sem_version.manager_roots({"PATH": path, "HOME": "/nonexistent"})
    if "pyenv" not in roots:
        return None
    current = job_python(path)
    for entry in sorted(os.listdir(Path(roots["pyenv"]) / "versions")):
        minor = ".".join(entry.split(".")[:2])
        if re.fullmatch(r"3\.\d+\.\d+", entry) and minor != current:
            return roots["pyenv"], minor
    return None


TARGET = pyenv_target(os.environ.get("PATH", ""))


def run_on_own_agent(database_url: str, tmp_path: Path, commands: list[str]) -> tuple[dict, str]:
    """(the finished pipeline, its jobs' logs) of one job run by a `blockpost agent` of the
    test's own user without a sandbox: it sees this machine's tools (pyenv, an engine's
    socket) as a job of an operator's agent would."""
    repo = GitRepo(tmp_path / "app")
    repo.commit(
        {
            ".semaphore/semaphore.yml": pipeline(
                "Own", [("Own", commands)], agent={"machine": {"type": "s1-toolbox"}}
            )
        }
    )
    server = ServerProcess(
        database_url, tmp_path / "data", extra_env={"BLOCKPOST_SYNC_HOLD_SECONDS": "1"}
    ).start()
    agent = None
    try:
        with server.admin_client() as api:
            token = api.post(
                f"{API}/self_hosted_agent_types", json={"metadata": {"name": "s1-toolbox"}}
            ).json()["status"]["registration_token"]
            agent = subprocess.Popen(
                [sys.executable, "-m", "blockpost", "agent", "--url", server.url,
                 "--jobs-dir", str(tmp_path / "jobs")],
                env={**os.environ, "BLOCKPOST_AGENT_TOKEN": token},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            finished = run_workflow(api, repo.url)
            return finished, why(api, finished)
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(timeout=15)
        server.stop()


@pytest.mark.skipif(TARGET is None, reason="no pyenv here with a python other than the PATH's")
def test_sem_version_switches_python_with_pyenv_for_the_rest_of_the_job(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    assert TARGET is not None
    root, minor = TARGET
    finished, log = run_on_own_agent(
        database_url,
        tmp_path,
        [
            f"sem-version python {minor}",
            f"python --version 2>&1 | grep -q 'Python {minor}\\.'",
            f'python3 -c \'import sys; assert "%d.%d" % sys.version_info[:2] == "{minor}"\'',
            f'case "$PYENV_VERSION" in {minor}.*) ;; *) false ;; esac',
            f"bash -c 'python3 --version' | grep -q 'Python {minor}\\.'",
            f"bash -c 'sem-version python {minor}' 2>&1 | grep -q 'Switch successful.'",
            "echo SWITCHED",
        ],
    )
    assert finished["pipeline"]["result"] == "passed", log
    assert "SWITCHED" in log
    assert f"{root}/versions/{minor}." in log


ENGINE = asyncio.run(containers.find_engine())


@pytest.mark.skipif(ENGINE is None, reason="no docker or podman engine answers on this machine")
def test_sem_service_runs_redis_on_loopback_until_the_job_ends(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    assert ENGINE is not None
    ping = (
        "( exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\\r\\n' >&3 && "
        "timeout 5 head -c 5 <&3 | grep -q PONG )"
    )
    finished, log = run_on_own_agent(
        database_url,
        tmp_path,
        [
            "sem-service start redis 7.2 | tee start.log",
            "grep -q 'Redis 7.2 is running at 127.0.0.1:6379' start.log",
            "sem-service status redis",
            ping,
            "sem-service stop redis && ! sem-service status redis",
            "sem-service start redis 7.2",  # left running: the agent removes it
            "echo SERVICES",
        ],
    )
    assert finished["pipeline"]["result"] == "passed", log
    assert "SERVICES" in log
    job = finished["blocks"][0]["jobs"][0]["job_id"]
    left = subprocess.run(
        [ENGINE, "ps", "-aq", "--filter", f"label=blockpost.job={job}"],
        capture_output=True,
        text=True,
    )
    assert left.stdout.strip() == ""
