"""`install-package [--update|-u] [--skip-update|-s] [--update-new|-n] PKG[=VERSION]…
[-o APT::Option …]`: apt-get install as Semaphore's toolbox does it, downloaded packages
kept in ~/.deb-cache and, when the job has the `cache` command, carried between jobs
under the key install_package_cache.

It needs root or passwordless sudo; a job with neither gets a clear error (exit 1).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

CACHE_KEY = "install_package_cache"
SUDO_TIMEOUT = 10
RECENT_LISTS_SECONDS = 59 * 60
USAGE = """Package installer that caches packages

Usage: install-package [--update] [--skip-update] [--update-new] pkg1[=version] \
[pkg2[=version]] [-o APT::Option] ...

--update            Forces repository list update before installing the packages
--skip-update       Skips repository list update
--update-new        Update only repository lists added in the last 1h
"""


class Failed(Exception):
    """install-package cannot go on; the message says why."""


def parse(arguments: list[str]) -> tuple[str, list[str]]:
    """(how to update the lists: "auto", "force", "skip" or "new"; apt-get install's
    arguments, packages and -o options as given)."""
    update = "auto"
    rest = []
    for argument in arguments:
        if argument in ("--update", "-u"):
            update = "force"
        elif argument in ("--skip-update", "-s"):
            update = "skip"
        elif argument in ("--update-new", "-n"):
            update = "new"
        else:
            rest.append(argument)
    return update, rest


def privilege(env: dict[str, str]) -> list[str]:
    """The prefix that runs apt-get as root: none for root, sudo when it asks for no
    password; raises Failed otherwise."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo", path=env.get("PATH", ""))
    if sudo is not None:
        try:
            done = subprocess.run(
                [sudo, "-n", "true"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=SUDO_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is not None and done.returncode == 0:
            return [sudo, "-n"]
    user = env.get("USER") or str(os.geteuid())
    why = "sudo asks for a password or refuses" if sudo else "there is no sudo"
    raise Failed(
        f"install-package: installing packages needs root or passwordless sudo; this job "
        f"runs as {user} and {why}. Install what the job needs on the agent's machine, or "
        "run the job in a container image that has it"
    )


def apt(prefix: list[str], arguments: list[str]) -> int:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # stdin is the job's shell's: apt must never read the job's next commands from it.
    return subprocess.run(
        [*prefix, "apt-get", *arguments], stdin=subprocess.DEVNULL, env=env
    ).returncode


def cache(arguments: list[str]) -> None:
    """The toolbox's `cache`, when the job has it; its failures only cost the caching."""
    program = shutil.which("cache")
    if program is not None:
        subprocess.run([program, *arguments], stdin=subprocess.DEVNULL)


def recent_lists(now: float) -> list[str]:
    return [
        path
        for path in glob.glob("/etc/apt/sources.list.d/*.list")
        if now - os.path.getmtime(path) < RECENT_LISTS_SECONDS
    ]


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments:
        sys.stdout.write(USAGE)
        return 1
    update, rest = parse(arguments)
    if not rest:
        sys.stdout.write(USAGE)
        return 1
    try:
        prefix = privilege(dict(os.environ))
    except Failed as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    store = os.path.join(os.path.expanduser("~"), ".deb-cache")
    os.makedirs(os.path.join(store, "partial"), exist_ok=True)
    marker = os.path.join(tempfile.gettempdir(), ".apt_update_ran")
    sys.stdout.write(">> Unpacking package archive...\n")
    sys.stdout.flush()
    cache(["restore", CACHE_KEY])
    if update == "skip":
        sys.stdout.write("* global package lists will not be updated\n")
    elif update == "new":
        sys.stdout.write("* only the recent package lists will be updated\n")
        lists = recent_lists(time.time())
        if not lists:
            sys.stdout.write("* no PPA list found which is modified in the last hour\n")
        for path in lists:
            sys.stdout.write(f"* pulling from: {path}\n")
            sys.stdout.flush()
            apt(
                prefix,
                [
                    "update",
                    "-o",
                    f"Dir::Etc::sourcelist={path}",
                    "-o",
                    "Dir::Etc::sourceparts=-",
                    "-o",
                    "APT::Get::List-Cleanup=0",
                ],
            )
    elif update == "force" or not os.path.exists(marker):
        sys.stdout.write(">> Updating repository lists and keys...\n")
        sys.stdout.flush()
        if apt(prefix, ["update"]) == 0:
            open(marker, "w").close()
    sys.stdout.write(">> Installing packages...\n")
    sys.stdout.flush()
    if apt(prefix, ["install", "-y", "-o", f"Dir::Cache::archives={store}", *rest]) != 0:
        sys.stdout.write(">> Errors have occurred during package installation.\n")
        return 1
    sys.stdout.write(">> Storing packages in archive...\n")
    sys.stdout.flush()
    if prefix:
        subprocess.run([*prefix, "chown", "-R", str(os.getuid()), store], stdin=subprocess.DEVNULL)
    cache(["store", CACHE_KEY, store])
    sys.stdout.write(">> Finished successfully.\n")
    return 0
