"""The key-less `cache store` and `cache restore`: Semaphore's lock files, the directories
each one's dependencies live in, and the keys made from the lock file's checksum
(cache-cli pkg/files/lookup.go)."""

from __future__ import annotations

import hashlib
import os
from typing import NamedTuple

# In Semaphore's order: a restore or store goes through them in this order.
LOCK_FILES = (
    ".nvmrc",
    "Gemfile.lock",
    "package-lock.json",
    "yarn.lock",
    "mix.lock",
    "requirements.txt",
    "composer.lock",
    "pom.xml",
    "Podfile.lock",
    "go.sum",
)
HOME = "~"  # stands for the home directory in the paths below


def _directories(lock_file: str) -> list[tuple[str, str]]:
    """(key prefix, path) of what each lock file's dependencies fill."""
    return {
        ".nvmrc": [("nvm", "~/.nvm")],
        "Gemfile.lock": [("gems", "vendor/bundle")],
        "package-lock.json": [("node-modules", "node_modules")],
        "yarn.lock": [("yarn-cache", "~/.cache/yarn"), ("node-modules", "node_modules")],
        "mix.lock": [("mix-deps", "deps"), ("mix-build", "_build")],
        "requirements.txt": [("requirements", ".pip_cache")],
        "composer.lock": [("composer", "vendor")],
        "pom.xml": [("maven", ".m2"), ("maven-target", "target")],
        "Podfile.lock": [("pods", "Pods")],
        "go.sum": [("go", "~/go/pkg/mod")],
    }[lock_file]


class Entry(NamedTuple):
    path: str
    keys: list[str]  # a store uses the first; a restore tries them in order


class Detected(NamedTuple):
    lock_file: str
    entries: list[Entry]


def checksum(path: str) -> str:
    """The lock file's MD5, as Semaphore's keys carry it."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_branch(env: dict[str, str] | None = None) -> str:
    environment = os.environ if env is None else env
    return environment.get("SEMAPHORE_GIT_PR_BRANCH") or environment.get("SEMAPHORE_GIT_BRANCH", "")


def restore_keys(prefix: str, branch: str, digest: str) -> list[str]:
    keys = [f"{prefix}-{branch}-{digest}", f"{prefix}-{branch}"]
    if branch != "master":
        keys.append(f"{prefix}-master")
    if branch != "main":
        keys.append(f"{prefix}-main")
    return keys


def lookup(directory: str, branch: str, restore: bool, home: str = "") -> list[Detected]:
    """What to store or restore for each lock file in `directory`."""
    home = home or os.path.expanduser("~")
    branch = branch or "master"
    found = []
    for lock_file in LOCK_FILES:
        path = os.path.join(directory, lock_file)
        if not os.path.isfile(path):
            continue
        digest = checksum(path)
        entries = []
        for prefix, where in _directories(lock_file):
            local = home + where[1:] if where.startswith(HOME) else where
            keys = (
                restore_keys(prefix, branch, digest) if restore else [f"{prefix}-{branch}-{digest}"]
            )
            entries.append(Entry(local, keys))
        found.append(Detected(lock_file, entries))
    return found
