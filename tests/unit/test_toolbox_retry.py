"""blockpost's `retry`: Semaphore's flags, defaults, messages and exit status."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

RETRY = Path(__file__).parents[2] / "src/blockpost/agent/toolbox/bin/retry"


def retry(*args: str, cwd: Path | None = None):
    return subprocess.run([str(RETRY), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_failing_command_is_tried_three_times_and_its_status_kept() -> None:
    done = retry("sh", "-c", "echo try; exit 7")
    assert done.returncode == 7
    assert done.stdout.splitlines() == [
        "try",
        "[1/3] Execution Failed with exit status 7. Retrying.",
        "try",
        "[2/3] Execution Failed with exit status 7. Retrying.",
        "try",
        "[3/3] Execution Failed with exit status 7. No more retries.",
    ]


def test_it_stops_at_the_first_success(tmp_path: Path) -> None:
    # One argument is a shell command line: `exit` ends that try, not the retrying.
    done = retry("--times", "5", "[ -f done ] || { touch done; exit 4; }", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == "[1/5] Execution Failed with exit status 4. Retrying.\n"


def test_several_arguments_are_one_commands_words_kept_as_given(tmp_path: Path) -> None:
    done = retry("-t", "1", "printf", "%s|", "two words", "$HOME")
    assert (done.returncode, done.stdout) == (0, "two words|$HOME|")


def test_sleep_waits_between_tries() -> None:
    started = time.monotonic()
    done = retry("-t", "2", "-s", "1", "false")
    assert done.returncode == 1
    assert time.monotonic() - started >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--times", "x", "true"], "retry: --times must be a whole number of at least 1, not 'x'"),
        (["-t", "0", "true"], "retry: --times must be a whole number of at least 1, not '0'"),
        (["--sleep", "soon", "true"], "retry: --sleep must be a number of seconds, not 'soon'"),
        (["--times"], "retry: --times needs a value"),
        ([], "usage: retry [-t|--times N] [-s|--sleep SECONDS] COMMAND..."),
    ],
)
def test_a_bad_command_line_exits_2_saying_why(args: list[str], message: str) -> None:
    done = retry(*args)
    assert done.returncode == 2
    assert done.stderr.strip() == message
