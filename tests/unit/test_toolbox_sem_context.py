"""blockpost's `sem-context`: Semaphore's key and value rules, exit codes and context order
(what it decides before reaching the artifact store)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from blockpost.agent.toolbox.sem_context import hierarchy

BIN = Path(__file__).parents[2] / "src/blockpost/agent/toolbox/bin"
JOB_ENV = {
    "PATH": os.environ["PATH"],
    "SEMAPHORE_WORKFLOW_ID": "w1",
    "SEMAPHORE_PIPELINE_ID": "p2",
    "SEMAPHORE_PIPELINE_0_ARTEFACT_ID": "p0",
    "SEMAPHORE_PIPELINE_1_ARTEFACT_ID": "p2",
    "SEMAPHORE_ARTIFACT_TOKEN": "token",
    "SEMAPHORE_ORGANIZATION_URL": "http://127.0.0.1:9",
}


def sem_context(*args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(BIN / "sem-context"), *args],
        env=JOB_ENV if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_contexts_run_from_this_pipeline_back_to_the_first_of_the_workflow() -> None:
    env = {f"SEMAPHORE_PIPELINE_{n}_ARTEFACT_ID": f"ppl-{n}" for n in (0, 2, 10, 1)}
    assert hierarchy(env) == ["ppl-10", "ppl-2", "ppl-1", "ppl-0"]
    assert hierarchy({"SEMAPHORE_PIPELINE_ID": "only"}) == ["only"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["put", "key"], "Put command expects one argument in form of key=value"),
        (["put", "a=b=c"], "Put command expects one argument in form of key=value"),
        (["put", "k1=v", "k2=v"], "Put command expects one argument in form of key=value"),
        (["get"], "Exactly one argument expected"),
        (["delete", "a", "b"], "Exactly one argument expected"),
        (["get", "ab"], "Key must be between 3 and 256 characters in length"),
        (["get", "my key"], "Key must be between 3 and 256 characters in length"),
        (["put", "../../key=v"], "Key must be between 3 and 256 characters in length"),
        (["put", "x" * 257 + "=v"], "Key must be between 3 and 256 characters in length"),
        (["put", "key="], "Value cant be an empty string"),
        (["put", "key=" + "v" * 20001], "Value cant be more than 20KB in size"),
    ],
)
def test_bad_arguments_exit_3_with_semaphores_message(args: list[str], message: str) -> None:
    done = sem_context(*args)
    assert done.returncode == 3, done
    assert message in done.stderr


def test_ignore_failure_reports_the_problem_and_exits_0() -> None:
    done = sem_context("put", "--ignore-failure", "key=")
    assert done.returncode == 0
    assert "Value cant be an empty string" in done.stderr


def test_an_unknown_command_fails_and_no_command_prints_usage() -> None:
    done = sem_context("set", "a=b")
    assert done.returncode == 1
    assert 'unknown command "set" for "sem-context"' in done.stderr
    assert sem_context().returncode == 0


def test_an_unreachable_artifact_store_exits_2() -> None:
    done = sem_context("get", "release")
    assert done.returncode == 2
    assert "Error with establishing connection with artifact server" in done.stderr


def test_outside_a_job_it_names_the_missing_variable() -> None:
    env = {k: v for k, v in JOB_ENV.items() if k != "SEMAPHORE_ARTIFACT_TOKEN"}
    done = sem_context("get", "release", env=env)
    assert done.returncode == 2
    assert "SEMAPHORE_ARTIFACT_TOKEN is not set" in done.stderr
