"""`sem-version LANGUAGE VERSION [-f] [-i|--ignore]`: checks that the job's PATH gives the
requested version ("3.11" is any 3.11.x, as Semaphore's is), and otherwise switches to an
installed version of a version manager (mise, asdf, pyenv, nvm, in that order).

A switch must outlive this process: the job's shell runs the function in sem_version.sh,
which names a file in SEM_VERSION_ENV_FILE; the exports written there are sourced into the
job's shell. Run as a plain program, a switch is refused with a message saying so.
Messages go to stderr as Semaphore's do; exit 1 on failure (0 with --ignore).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from typing import NamedTuple

ENV_FILE = "SEM_VERSION_ENV_FILE"
PROBE_TIMEOUT = 20
VERSION = re.compile(r"[0-9][0-9A-Za-z.+_-]*")
NUMERIC = re.compile(r"\d+(?:[._+]\d+)*")
USAGE = """
################################################################################
sem-version | Utility to change a selected software active version

Usage:
  sem-version software version [-f] [-i|--ignore]
################################################################################
"""
ERLANG_VERSION = (
    '{ok, V} = file:read_file(filename:join([code:root_dir(), "releases", '
    'erlang:system_info(otp_release), "OTP_VERSION"])), io:put_chars(V), halt().'
)


class Language(NamedTuple):
    programs: tuple[str, ...]  # what the job's PATH must provide, any one of them
    arguments: tuple[str, ...]  # how each program tells its version
    pattern: str  # the version in that output (group 1)
    tools: dict[str, str]  # version manager -> its name for the language


LANGUAGES: dict[str, Language] = {
    "python": Language(
        ("python3", "python"),
        ("--version",),
        r"Python (\d[\w.]*)",
        {"mise": "python", "asdf": "python", "pyenv": "python"},
    ),
    "node": Language(
        ("node",), ("--version",), r"v(\d[\d.]*)", {"mise": "node", "asdf": "nodejs", "nvm": "node"}
    ),
    "ruby": Language(
        ("ruby",), ("--version",), r"ruby (\d[\d.]*)", {"mise": "ruby", "asdf": "ruby"}
    ),
    "go": Language(("go",), ("version",), r"go(\d[\d.]*)", {"mise": "go", "asdf": "golang"}),
    "java": Language(
        ("java",), ("-version",), r'version "(\d[\w.]*)"', {"mise": "java", "asdf": "java"}
    ),
    "php": Language(("php",), ("--version",), r"PHP (\d[\d.]*)", {"mise": "php", "asdf": "php"}),
    "elixir": Language(
        ("elixir",), ("--version",), r"Elixir (\d[\d.]*)", {"mise": "elixir", "asdf": "elixir"}
    ),
    "erlang": Language(
        ("erl",),
        ("-noshell", "-eval", ERLANG_VERSION),
        r"(\d[\d.]*)",
        {"mise": "erlang", "asdf": "erlang"},
    ),
    "scala": Language(
        ("scala",),
        ("-version",),
        r"Scala version \(default\): (\d[\d.]*)|Scala code runner version (\d[\d.]*)",
        {"mise": "scala", "asdf": "scala"},
    ),
    "kubectl": Language(
        ("kubectl",),
        ("version", "--client"),
        r"v(\d[\d.]*)",
        {"mise": "kubectl", "asdf": "kubectl"},
    ),
    "firefox": Language(("firefox",), ("--version",), r"Firefox (\d[\d.]*)", {}),
    "flutter": Language(
        ("flutter",), ("--version",), r"Flutter (\d[\d.]*)", {"mise": "flutter", "asdf": "flutter"}
    ),
    "c": Language(("gcc",), ("-dumpfullversion", "-dumpversion"), r"(\d[\d.]*)", {}),
    "cpp": Language(("g++",), ("-dumpfullversion", "-dumpversion"), r"(\d[\d.]*)", {}),
}
MANAGERS = ("mise", "asdf", "pyenv", "nvm")


class Failed(Exception):
    """sem-version failed; the message says why."""


class Found(NamedTuple):
    program: str
    path: str
    version: str


class Candidate(NamedTuple):
    """An installed version of a version manager."""

    manager: str
    version: str  # as the manager names it
    directory: str  # its install directory, with bin/ inside


def components(version: str, java: bool = False) -> list[str]:
    """A version's parts: "3.11.2" -> ["3", "11", "2"]; Java's "1.8.0_392" is 8.0.392."""
    if java and version.startswith("1."):
        version = version[2:]
    return [part for part in re.split(r"[._+]", version) if part]


def matches(requested: str, installed: str, java: bool = False) -> bool:
    """Whether `installed` is the requested version: "3.11" is 3.11 and 3.11.x, not 3.1."""
    wanted = components(requested, java)
    have = components(installed, java)
    return bool(wanted) and have[: len(wanted)] == wanted


def parse_version(language: Language, output: str) -> str | None:
    found = re.search(language.pattern, output)
    if found is None:
        return None
    return next(group for group in found.groups() if group)


def on_path(language: Language, env: dict[str, str]) -> list[Found]:
    """The language's programs on the PATH in `env`, with the versions they report."""
    found = []
    for program in language.programs:
        path = shutil.which(program, path=env.get("PATH", ""))
        if path is None:
            continue
        try:
            done = subprocess.run(
                [path, *language.arguments],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=PROBE_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = parse_version(language, done.stdout.decode("utf-8", "replace"))
        if version is not None:
            found.append(Found(program, path, version))
    return found


def manager_roots(env: dict[str, str]) -> dict[str, str]:
    """Where each installed version manager keeps its versions, for those found."""
    home = env.get("HOME", "")
    data = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    places = {
        "mise": (env.get("MISE_DATA_DIR") or os.path.join(data, "mise"), "installs"),
        "asdf": (env.get("ASDF_DATA_DIR") or os.path.join(home, ".asdf"), "installs"),
        "pyenv": (env.get("PYENV_ROOT") or _pyenv_root(env), "versions"),
        "nvm": (env.get("NVM_DIR") or os.path.join(home, ".nvm"), "versions"),
    }
    return {
        manager: root
        for manager, (root, inside) in places.items()
        if root and os.path.isdir(os.path.join(root, inside))
    }


def _pyenv_root(env: dict[str, str]) -> str:
    """pyenv's default root, else the one its program on PATH belongs to (`bin/pyenv`
    links to `libexec/pyenv` inside the root)."""
    default = os.path.join(env.get("HOME", ""), ".pyenv")
    if os.path.isdir(default):
        return default
    program = shutil.which("pyenv", path=env.get("PATH", ""))
    if program is None:
        return ""
    return os.path.dirname(os.path.dirname(os.path.realpath(program)))


def versions_dir(manager: str, root: str, tool: str) -> str:
    if manager in ("mise", "asdf"):
        return os.path.join(root, "installs", tool)
    if manager == "pyenv":
        return os.path.join(root, "versions")
    return os.path.join(root, "versions", tool)


def version_name(manager: str, language: str, entry: str) -> str | None:
    """The plain version an install directory holds ("v20.1.0" for nvm, "temurin-17.0.2"
    for a Java distribution), or None for one that is not a release (pypy, "3.12-dev")."""
    name = entry[1:] if manager == "nvm" and entry.startswith("v") else entry
    if language == "java" and "-" in name:
        name = name.split("-", 1)[1]
    return name if NUMERIC.fullmatch(name) else None


def installed(language: str, roots: dict[str, str]) -> dict[str, list[Candidate]]:
    """Every manager's installed versions of the language, in the order of preference."""
    table = LANGUAGES[language]
    found: dict[str, list[Candidate]] = {}
    for manager in MANAGERS:
        tool = table.tools.get(manager)
        if tool is None or manager not in roots:
            continue
        directory = versions_dir(manager, roots[manager], tool)
        try:
            entries = os.listdir(directory)
        except OSError:
            entries = []
        listed = [
            Candidate(manager, entry, os.path.join(directory, entry))
            for entry in entries
            if version_name(manager, language, entry) is not None
            and os.path.isdir(os.path.join(directory, entry, "bin"))
        ]
        found[manager] = sorted(listed, key=lambda c: numeric(c, language))
    return found


def numeric(candidate: Candidate, language: str) -> list[int]:
    """A candidate's version as numbers, to order candidates (each is a plain version)."""
    name = str(version_name(candidate.manager, language, candidate.version))
    return [int(part) for part in components(name, language == "java")]


def best(language: str, requested: str, candidates: list[Candidate]) -> Candidate | None:
    """The newest candidate that is the requested version."""
    java = language == "java"
    fitting = [
        candidate
        for candidate in candidates
        if matches(
            requested, str(version_name(candidate.manager, language, candidate.version)), java
        )
    ]
    return max(fitting, key=lambda c: numeric(c, language)) if fitting else None


def switch_variables(candidate: Candidate, tool: str, env: dict[str, str]) -> dict[str, str]:
    """What the job's shell exports to use the candidate: its bin/ first on PATH, and the
    manager's own variable, so that the manager's shims agree."""
    bin_dir = os.path.join(candidate.directory, "bin")
    variables = {"PATH": f"{bin_dir}:{env.get('PATH', '')}"}
    name = re.sub(r"[^A-Z0-9]", "_", tool.upper())
    if candidate.manager == "mise":
        variables[f"MISE_{name}_VERSION"] = candidate.version
    elif candidate.manager == "asdf":
        variables[f"ASDF_{name}_VERSION"] = candidate.version
    elif candidate.manager == "pyenv":
        variables["PYENV_VERSION"] = candidate.version
        variables["PYENV_ROOT"] = os.path.dirname(os.path.dirname(candidate.directory))
    return variables


def describe(found: list[Found]) -> str:
    return ", ".join(f"{f.program} {f.version} ({f.path})" for f in found) or "none"


def parse_arguments(arguments: list[str]) -> tuple[str, str, bool]:
    """(language, version, ignore failures); raises Failed on a bad command line."""
    flags = arguments[2:]
    unknown = [flag for flag in flags if flag not in ("-f", "-i", "--ignore")]
    if len(arguments) < 2 or unknown:
        raise Failed("Unsupported number of arguments provided!")
    language, version = arguments[0], arguments[1]
    if language not in LANGUAGES:
        raise Failed(
            f"Function 'version::change_{language}' not implemented. Software '{language}' "
            f"might not be supported. Supported: {', '.join(sorted(LANGUAGES))}"
        )
    if not VERSION.fullmatch(version):
        raise Failed(f"'{version}' is not a version (digits and dots, as 3.11 or 20.10.0)")
    return language, version, "-i" in flags or "--ignore" in flags


def choose(
    language: str, version: str, env: dict[str, str]
) -> tuple[list[Found], dict[str, str] | None]:
    """(what the PATH gives, the variables to export): no variables when the PATH already
    gives the version; raises Failed when no installed manager has it either."""
    table = LANGUAGES[language]
    java = language == "java"
    current = on_path(table, env)
    if any(matches(version, found.version, java) for found in current):
        return current, None
    roots = manager_roots(env)
    candidates = installed(language, roots)
    chosen = None
    for manager in MANAGERS:
        chosen = best(language, version, candidates.get(manager, []))
        if chosen is not None:
            break
    if chosen is None:
        raise Failed(not_installed(language, version, current, candidates))
    variables = switch_variables(chosen, table.tools[chosen.manager], env)
    after = on_path(table, {**env, **variables})
    if not any(matches(version, found.version, java) for found in after):
        raise Failed(
            f"{language} {version} from {chosen.manager} ({chosen.directory}) does not run: "
            f"its PATH gives {describe(after)}"
        )
    return after, variables


def not_installed(
    language: str, version: str, current: list[Found], candidates: dict[str, list[Candidate]]
) -> str:
    lines = [f"{language} {version} is not installed: this job's PATH has {describe(current)}"]
    for manager, listed in candidates.items():
        names = ", ".join(candidate.version for candidate in listed) or "no version"
        lines.append(f"{manager} has {names} of {language}")
    tools = LANGUAGES[language].tools
    looked = [manager for manager in MANAGERS if manager in tools]
    if not candidates:
        lines.append(
            f"no version manager that could switch it ({', '.join(looked)}) is installed"
            if looked
            else f"blockpost switches {language} with no version manager"
        )
    return "\n".join(lines)


def log(message: str, error: bool = False) -> None:
    stamp = time.strftime("%H:%M %d/%m/%Y")
    sys.stderr.write(f"\n{'! ' if error else ''}[{stamp}]: {message}\n")


def exports(variables: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    env_file = env.pop(ENV_FILE, "")
    try:
        language, version, ignore = parse_arguments(arguments)
    except Failed as exc:
        # As Semaphore's: a bad command line fails whatever --ignore says.
        if len(arguments) < 2:
            sys.stderr.write(USAGE)
        log(str(exc), error=True)
        return 1
    log(f"Changing '{language}' to version {version}")
    try:
        found, variables = choose(language, version, env)
        if variables is not None:
            if not env_file:
                raise Failed(
                    f"{language} {version} needs a switch, which only works in the job's "
                    "own shell: call sem-version there (or `source` the script that calls it)"
                )
            with open(env_file, "w", encoding="utf-8") as target:
                target.write(exports(variables))
    except Failed as exc:
        log(str(exc), error=True)
        log("Failed to switch version.\n", error=True)
        return 0 if ignore else 1
    log(f"{language} {version}: {describe(found)}")
    log("Switch successful.")
    return 0
