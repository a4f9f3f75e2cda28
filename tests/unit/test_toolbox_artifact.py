"""blockpost's `artifact` command: Semaphore's remote paths, flags, messages and exit codes
for everything it decides before (or without) reaching the server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from blockpost.agent.toolbox.artifact import Resolver, human_size, to_relative
from blockpost.agent.toolbox.flags import Flag, UsageError, parse
from blockpost.agent.toolbox.hub import SignedURL

BIN = Path(__file__).parents[2] / "src/blockpost/agent/toolbox/bin"
JOB_ENV = {
    "PATH": os.environ["PATH"],
    "SEMAPHORE_PROJECT_ID": "p1",
    "SEMAPHORE_WORKFLOW_ID": "w1",
    "SEMAPHORE_JOB_ID": "j1",
    "SEMAPHORE_ARTIFACT_TOKEN": "token",
    "SEMAPHORE_ORGANIZATION_URL": "http://127.0.0.1:9",
}


def artifact(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [str(BIN / "artifact"), *args],
        env=JOB_ENV if env is None else env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("given", "relative"),
    [
        ("", ""),
        ("./../source", "source"),
        ("./../.source", ".source"),
        ("./../source/..", ""),
        ("./../source/../.longer/.", ".longer"),
        ("/source", "source"),
        ("/.long/path/to/source", ".long/path/to/source"),
        ("//source", "source"),
    ],
)
def test_paths_lose_leading_dots_and_slashes_as_the_artifact_cli_strips_them(
    given: str, relative: str
) -> None:
    assert to_relative(given) == relative


@pytest.mark.parametrize(
    ("source", "destination", "local", "remote"),
    [
        ("x.zip", "", "x.zip", "artifacts/workflows/w1/x.zip"),
        ("/long/path/to/x.zip", "", "/long/path/to/x.zip", "artifacts/workflows/w1/x.zip"),
        ("./long/path/to/x.zip", "", "long/path/to/x.zip", "artifacts/workflows/w1/x.zip"),
        ("x.zip", "/long/path/to/y.zip", "x.zip", "artifacts/workflows/w1/long/path/to/y.zip"),
        ("x.zip", "../../escape.zip", "x.zip", "artifacts/workflows/w1/escape.zip"),
    ],
)
def test_a_push_stores_the_base_name_unless_a_destination_is_given(
    source: str, destination: str, local: str, remote: str
) -> None:
    assert Resolver("workflow", env=JOB_ENV).push(source, destination) == (local, remote)


@pytest.mark.parametrize(
    ("source", "destination", "remote", "local"),
    [
        ("long/path/to/x.zip", "", "artifacts/jobs/j1/long/path/to/x.zip", "x.zip"),
        ("/x.zip", "y.zip", "artifacts/jobs/j1/x.zip", "y.zip"),
        ("reports/", "", "artifacts/jobs/j1/reports", "reports"),
    ],
)
def test_a_pull_lands_in_the_base_name_unless_a_destination_is_given(
    source: str, destination: str, remote: str, local: str
) -> None:
    assert Resolver("job", env=JOB_ENV).pull(source, destination) == (remote, local)


def test_an_id_flag_overrides_the_jobs_own_id() -> None:
    assert Resolver("project", "other", env=JOB_ENV).yank("a/b") == "artifacts/projects/other/a/b"


def test_the_stored_name_is_read_from_a_signed_urls_path_after_any_store_prefix() -> None:
    url = SignedURL(
        "https://files.example.com/artifact-store/v1/artifacts/jobs/j1/rep%20orts/a.xml?sig=1",
        "GET",
    )
    assert url.object_name("artifacts/jobs/j1/rep orts") == "artifacts/jobs/j1/rep orts/a.xml"


def test_flags_parse_anywhere_in_every_spelling_pflag_accepts() -> None:
    flags = [Flag("destination", "d"), Flag("force", "f", boolean=True), Flag("expire-in", "e")]
    assert parse(["-fd", "out", "x", "--expire-in=1w"], flags) == (
        ["x"],
        {"destination": "out", "force": True, "expire-in": "1w"},
    )
    assert parse(["--destination", "o", "-e2d", "--force=false", "--", "-x"], flags) == (
        ["-x"],
        {"destination": "o", "force": False, "expire-in": "2d"},
    )
    with pytest.raises(UsageError, match="unknown flag: --nope"):
        parse(["--nope"], flags)
    with pytest.raises(UsageError, match="flag needs an argument: -d"):
        parse(["x", "-d"], flags)


def test_sizes_read_as_the_cli_prints_them() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KB",
        "1.5 KB",
        "5.0 GB",
    ]


def test_without_arguments_it_prints_its_usage_and_succeeds() -> None:
    done = artifact()
    assert done.returncode == 0
    assert all(command in done.stdout for command in ("push", "pull", "yank"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["store", "job", "x"], 'Error: unknown command "store" for "artifact"'),
        (["push", "team", "x"], 'Error: unknown level "team" for "artifact push"'),
        (["pull"], "Error: artifact pull needs a level: project, workflow or job"),
        (["push", "job"], "Error: accepts 1 arg(s), received 0"),
        (["yank", "job", "a", "b"], "Error: accepts 1 arg(s), received 2"),
        (["yank", "job", "a", "--force"], "Error: unknown flag: --force"),
        (["push", "job", "a", "-x"], "Error: unknown shorthand flag: 'x' in -x"),
    ],
)
def test_a_bad_command_line_fails_with_cobras_message(args: list[str], message: str) -> None:
    done = artifact(*args)
    assert done.returncode == 1
    assert message in done.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SEMAPHORE_ARTIFACT_TOKEN", "error: SEMAPHORE_ARTIFACT_TOKEN is not set"),
        ("SEMAPHORE_ORGANIZATION_URL", "error: SEMAPHORE_ORGANIZATION_URL is not set"),
        (
            "SEMAPHORE_WORKFLOW_ID",
            "error: workflow ID is not set. Please use the SEMAPHORE_WORKFLOW_ID environment "
            "variable or the --workflow-id parameter to configure it",
        ),
    ],
)
def test_outside_a_job_it_names_the_missing_variable(missing: str, message: str) -> None:
    env = {name: value for name, value in JOB_ENV.items() if name != missing}
    done = artifact("push", "workflow", "x", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == message


def test_pushing_a_missing_file_fails_before_asking_the_server(tmp_path: Path) -> None:
    done = artifact("push", "workflow", "build/app.bin", cwd=tmp_path)
    assert done.returncode == 1
    assert "Error pushing artifact: path 'build/app.bin' does not exist locally" in done.stderr
    assert done.stderr.startswith("[")  # the CLI's "[Mon _2 15:04:05.000] " prefix


def test_expire_in_warns_that_it_is_obsolete_and_still_pushes(tmp_path: Path) -> None:
    done = artifact("push", "job", "gone.txt", "-e", "1w", cwd=tmp_path)
    assert "WARNING: The --expire-in flag is obsolete and will have no efffect." in done.stdout
    assert "does not exist locally" in done.stderr


def test_an_unreachable_server_is_an_error_after_retries(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    done = artifact("push", "job", "a.txt", cwd=tmp_path)
    assert done.returncode == 1
    assert "Error pushing artifact: request did not return a non-5xx response" in done.stderr


def test_without_python3_on_the_path_it_says_what_is_missing(tmp_path: Path) -> None:
    done = artifact("push", "job", "x", env={**JOB_ENV, "PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "runs on python3 (3.8 or newer), which is not on this job's PATH" in done.stderr
