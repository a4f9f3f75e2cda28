"""sem-version's pure parts: arguments as Semaphore's reads them, version matching, the
choice among a version manager's installs, and what a switch exports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blockpost.agent.toolbox import sem_version
from blockpost.agent.toolbox.sem_version import Candidate, Failed

TOOLBOX = Path(sem_version.__file__).parent


@pytest.mark.parametrize(
    ("requested", "installed", "java", "expected"),
    [
        ("3.11", "3.11.7", False, True),
        ("3", "3.11.7", False, True),
        ("3.11.7", "3.11.7", False, True),
        ("3.1", "3.11.7", False, False),
        ("3.11.8", "3.11.7", False, False),
        ("20", "20.10.0", False, True),
        ("8", "1.8.0_392", True, True),
        ("11", "11.0.20", True, True),
        ("17", "17.0.5+8", True, True),
        ("1.8", "1.8.0_392", False, True),
    ],
)
def test_a_version_is_any_release_it_prefixes_part_by_part(
    requested: str, installed: str, java: bool, expected: bool
) -> None:
    assert sem_version.matches(requested, installed, java) is expected


def test_arguments_take_semaphores_flags_and_refuse_the_rest() -> None:
    assert sem_version.parse_arguments(["python", "3.11"]) == ("python", "3.11", False)
    assert sem_version.parse_arguments(["ruby", "3.2", "-f", "--ignore"]) == ("ruby", "3.2", True)
    assert sem_version.parse_arguments(["node", "20", "-i"]) == ("node", "20", True)
    with pytest.raises(Failed, match="Unsupported number of arguments"):
        sem_version.parse_arguments(["python"])
    with pytest.raises(Failed, match="Unsupported number of arguments"):
        sem_version.parse_arguments(["python", "3.11", "--bogus"])
    with pytest.raises(Failed, match="Software 'cobol' might not be supported"):
        sem_version.parse_arguments(["cobol", "1"])
    with pytest.raises(Failed, match="'latest' is not a version"):
        sem_version.parse_arguments(["python", "latest"])


@pytest.mark.parametrize(
    ("language", "output", "version"),
    [
        ("python", "Python 3.11.2\n", "3.11.2"),
        ("node", "v20.10.0\n", "20.10.0"),
        ("go", "go version go1.21.5 linux/amd64\n", "1.21.5"),
        ("java", 'openjdk version "17.0.9" 2023-10-17\n', "17.0.9"),
        ("ruby", "ruby 3.2.2 (2023-03-30 revision e51014f9c0) [x86_64-linux]\n", "3.2.2"),
        ("scala", "Scala code runner version: 1.4.3\nScala version (default): 3.5.2\n", "3.5.2"),
        ("scala", "Scala code runner version 2.13.12 -- Copyright 2002-2023\n", "2.13.12"),
        ("kubectl", "Client Version: v1.28.2\nKustomize Version: v5.0.4\n", "1.28.2"),
        ("elixir", "Erlang/OTP 26 [erts-14.1]\n\nElixir 1.15.7 (compiled with OTP 26)\n", "1.15.7"),
    ],
)
def test_each_languages_version_is_read_from_its_programs_own_words(
    language: str, output: str, version: str
) -> None:
    assert sem_version.parse_version(sem_version.LANGUAGES[language], output) == version


def install(root: Path, *names: str) -> None:
    for name in names:
        (root / name / "bin").mkdir(parents=True)


def test_the_newest_plain_release_that_matches_is_chosen(tmp_path: Path) -> None:
    install(tmp_path / "versions", "3.10.2", "3.10.13", "3.1.5", "3.10-dev", "pypy3.10-7.3.12")
    roots = {"pyenv": str(tmp_path)}
    found = sem_version.installed("python", roots)["pyenv"]
    assert [c.version for c in found] == ["3.1.5", "3.10.2", "3.10.13"]
    chosen = sem_version.best("python", "3.10", found)
    assert chosen is not None
    assert chosen.version == "3.10.13"
    assert sem_version.best("python", "3.9", found) is None


def test_managers_are_preferred_mise_asdf_then_the_language_own(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(home / ".local/share/mise/installs/node", "20.1.0")
    install(home / ".asdf/installs/nodejs", "20.2.0")
    install(home / ".nvm/versions/node", "v20.3.0", "v18.0.0")
    env = {"HOME": str(home), "PATH": ""}
    roots = sem_version.manager_roots(env)
    assert set(roots) == {"mise", "asdf", "nvm"}
    found = sem_version.installed("node", roots)
    assert list(found) == ["mise", "asdf", "nvm"]
    assert [c.version for c in found["nvm"]] == ["v18.0.0", "v20.3.0"]
    assert sem_version.best("node", "18", found["nvm"]) == Candidate(
        "nvm", "v18.0.0", str(home / ".nvm/versions/node/v18.0.0")
    )


def test_a_java_distribution_name_is_read_as_its_version(tmp_path: Path) -> None:
    install(
        tmp_path / "installs/java", "temurin-17.0.5+8", "openjdk-21.0.1", "adoptopenjdk-8.0.392"
    )
    found = sem_version.installed("java", {"asdf": str(tmp_path)})["asdf"]
    chosen = sem_version.best("java", "17", found)
    assert chosen is not None
    assert chosen.version == "temurin-17.0.5+8"
    assert sem_version.best("java", "11", found) is None


def test_a_switch_puts_the_versions_bin_first_and_tells_the_manager(tmp_path: Path) -> None:
    directory = str(tmp_path / "versions/3.10.13")
    variables = sem_version.switch_variables(
        Candidate("pyenv", "3.10.13", directory), "python", {"PATH": "/usr/bin"}
    )
    assert variables == {
        "PATH": f"{directory}/bin:/usr/bin",
        "PYENV_VERSION": "3.10.13",
        "PYENV_ROOT": str(tmp_path),
    }
    asdf = sem_version.switch_variables(
        Candidate("asdf", "1.21.5", "/a/golang/1.21.5"), "golang", {}
    )
    assert asdf["ASDF_GOLANG_VERSION"] == "1.21.5"
    mise = sem_version.switch_variables(Candidate("mise", "20.1.0", "/m/node/20.1.0"), "node", {})
    assert mise["MISE_NODE_VERSION"] == "20.1.0"
    assert sem_version.exports({"PATH": "/a b:/c"}) == "export PATH='/a b:/c'\n"


def test_a_version_nobody_has_names_what_the_path_and_the_managers_have(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": os.path.dirname(sys.executable)}
    with pytest.raises(Failed) as failed:
        sem_version.choose("python", "2.6", env)
    message = str(failed.value)
    assert message.startswith("python 2.6 is not installed: this job's PATH has python3 3.")
    assert "no version manager that could switch it (mise, asdf, pyenv) is installed" in message
    with pytest.raises(Failed, match="blockpost switches firefox with no version manager"):
        sem_version.choose("firefox", "115", {"HOME": str(tmp_path), "PATH": ""})


def version_of(python: str) -> str:
    done = subprocess.run([python, "--version"], capture_output=True, text=True)
    return done.stdout.split()[1]


SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin")
OTHER = version_of(SYSTEM_PYTHON) if SYSTEM_PYTHON else ""


@pytest.mark.skipif(
    not OTHER or version_of(sys.executable) == OTHER,
    reason="needs a second python3 (/usr/bin's) of another version than the suite's",
)
def test_the_shell_function_keeps_a_switch_and_the_program_alone_refuses_one(
    tmp_path: Path,
) -> None:
    # The job's PATH gives the suite's python3; a pyenv root holds the system's, by version.
    assert SYSTEM_PYTHON is not None
    path_dir = tmp_path / "path"
    path_dir.mkdir()
    (path_dir / "python3").symlink_to(sys.executable)
    for tool in ("sh", "bash", "mktemp", "rm", "dirname"):
        (path_dir / tool).symlink_to(str(shutil.which(tool)))
    installed = tmp_path / "pyenv/versions" / OTHER / "bin"
    installed.mkdir(parents=True)
    (installed / "python3").symlink_to(SYSTEM_PYTHON)
    env = {"PATH": f"{path_dir}:{TOOLBOX}/bin", "HOME": str(tmp_path / "home")}
    env["PYENV_ROOT"] = str(tmp_path / "pyenv")
    script = (
        f"source {TOOLBOX}/sem_version.sh\n"
        f"sem-version python {OTHER} || exit 9\n"
        'echo "$PYENV_VERSION"\n'
        "python3 --version\n"
        f"bash -c 'type sem-version' >/dev/null && echo exported\n"
    )
    done = subprocess.run(
        [str(path_dir / "bash"), "--norc", "-c", script], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "Switch successful." in done.stderr
    assert done.stdout.splitlines() == [OTHER, f"Python {OTHER}", "exported"]
    direct = subprocess.run(
        [str(TOOLBOX / "bin/sem-version"), "python", OTHER], capture_output=True, text=True, env=env
    )
    assert direct.returncode == 1
    assert "needs a switch, which only works in the job's own shell" in direct.stderr
