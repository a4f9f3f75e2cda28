"""`artifact push|pull|yank project|workflow|job PATH`, as Semaphore's artifact CLI does it:
its flags, its remote paths, its messages and its exit codes."""

from __future__ import annotations

import os
import posixpath
import shutil
import sys
import tempfile
import time
from typing import TextIO

from . import hub
from .flags import Flag, UsageError, parse
from .hub import Hub, HubError, SignedURL

LEVELS = {
    "project": ("projects", "SEMAPHORE_PROJECT_ID", "project-id", "p"),
    "workflow": ("workflows", "SEMAPHORE_WORKFLOW_ID", "workflow-id", "w"),
    "job": ("jobs", "SEMAPHORE_JOB_ID", "job-id", "j"),
}
OPERATIONS = ("push", "pull", "yank")
ALIASES = {"delete": "yank"}
GLOBAL_FLAGS = [Flag("verbose", "v", boolean=True), Flag("config"), Flag("help", "h", True)]
EXPIRE_IN_WARNING = """
WARNING: The --expire-in flag is obsolete and will have no efffect.
Use artifact retention policies to control the lifetime of artifacts.
Docs: https://docs.semaphoreci.com/essentials/artifacts/#artifact-retention-policies
"""
USAGE = """Usage:
  artifact [command]

Available Commands:
  pull        Downloads a file or directory from the storage you pushed earlier
  push        Stores a file or directory in the storage for later use
  yank        Deletes a file or directory from the storage you pushed earlier

Each takes a level (project, workflow or job) and a path:
  artifact push workflow build/app.bin [-d DESTINATION] [-f] [-e EXPIRE_IN]
  artifact pull workflow app.bin [-d DESTINATION] [-f]
  artifact yank workflow app.bin
"""


class Failed(Exception):
    """The command failed; its messages are printed already."""


def log(message: str, stream: TextIO | None = None) -> None:
    """A line as the CLI's logrus formatter writes it: `[Jan _2 15:04:05.000] message`."""
    now = time.time()
    stamp = time.strftime("%b ", time.gmtime(now)) + f"{time.gmtime(now).tm_mday:>2} "
    stamp += time.strftime("%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
    (stream or sys.stderr).write(f"[{stamp:<19}] {message}\n")


def clean(path: str) -> str:
    """Go's path.Clean (POSIX normpath keeps a leading '//', Go does not)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def to_relative(path: str) -> str:
    """The CLI's ToRelative: leading './', '../' and '/' dropped, a file's own dots kept."""
    cleaned = clean(path)
    if len(cleaned) == cleaned.count("."):
        return ""
    trimmed = cleaned.lstrip("./")
    left = cleaned[: len(cleaned) - len(trimmed)]
    return cleaned[len(left.rstrip(".")) :]


class Resolver:
    """Remote paths of one level: `artifacts/<projects|workflows|jobs>/<id>/<path>`."""

    def __init__(self, level: str, override: str = "", env: dict | None = None) -> None:
        plural, variable, flag, _ = LEVELS[level]
        environment = os.environ if env is None else env
        self.level = level
        self.plural = plural
        self.id = override or environment.get(variable, "")
        if not self.id:
            raise HubError(
                f"{level} ID is not set. Please use the {variable} environment variable or "
                f"the --{flag} parameter to configure it"
            )

    def prefixed(self, path: str) -> str:
        return clean(posixpath.join("artifacts", self.plural, self.id, path))

    def push(self, source: str, destination: str) -> tuple[str, str]:
        """(local source, remote destination)."""
        name = to_relative(destination) or posixpath.basename(clean(source))
        return clean(source), self.prefixed(name)

    def pull(self, source: str, destination: str) -> tuple[str, str]:
        """(remote source, local destination)."""
        remote = to_relative(source)
        local = clean(destination or posixpath.basename(remote) or ".")
        return self.prefixed(remote), local

    def yank(self, path: str) -> str:
        return self.prefixed(to_relative(path))


def locate(source: str, destination: str) -> list[tuple[str, str]]:
    """(local file, remote path) of each file to push: the file, or a directory's files."""
    if not os.path.exists(source):
        raise HubError(f"path '{source}' does not exist locally")
    if not os.path.isdir(source):
        return [(source, destination)]
    found = []
    for parent, directories, files in os.walk(source):
        directories.sort()
        for name in sorted(files):
            local = os.path.join(parent, name)
            found.append((local, clean(destination + "/" + local[len(source) :])))
    return found


def push(
    client: Hub, resolver: Resolver, source: str, destination: str, force: bool
) -> tuple[str, str, int, int]:
    """(local source, remote destination, files, bytes)."""
    local, remote = resolver.push(source, destination)
    items = locate(local, remote)
    urls = client.signed_urls(
        [remote_path for _, remote_path in items], hub.PUSHFORCE if force else hub.PUSH
    )
    per_item = 1 if force else 2
    if len(urls) != len(items) * per_item:
        kind = "forceful" if force else "non-forceful"
        raise HubError(
            f"bad number of signed URLs ({len(urls)}) for {kind} push - should be "
            f"{len(items) * per_item}"
        )
    count = total = 0
    for number, (path, remote_path) in enumerate(items):
        for url in urls[number * per_item : (number + 1) * per_item]:
            total += _follow_push(url, path, remote_path)
            count += url.method == "PUT"
    return local, remote, count, total


def _follow_push(url: SignedURL, local: str, remote: str) -> int:
    if url.method == "HEAD":
        if hub.exists(url):
            raise HubError(
                f"'{remote}' already exists in the remote storage; delete it first, or use "
                "--force flag"
            )
        return 0
    if url.method == "PUT":
        return hub.upload(url, local)
    raise HubError(f"method '{url.method}' not implemented")


def pull(
    client: Hub, resolver: Resolver, source: str, destination: str, force: bool
) -> tuple[str, str, int, int]:
    """(remote source, local destination, files, bytes)."""
    remote, local = resolver.pull(source, destination)
    urls = client.signed_urls([remote], hub.PULL)
    planned = []
    for url in urls:
        name = url.object_name(remote)
        path = clean(posixpath.join(local, name[len(remote) :].lstrip("/")))
        if not force and os.path.exists(path):
            raise HubError(f"'{path}' already exists locally; delete it first, or use --force flag")
        planned.append((url, path))
    count = total = 0
    for url, path in planned:
        if url.method not in ("GET", ""):
            raise HubError(f"method '{url.method}' not implemented")
        url.method = "GET"
        total += hub.download(url, path)
        count += 1
    return remote, local, count, total


def yank(client: Hub, resolver: Resolver, path: str) -> str:
    remote = resolver.yank(path)
    for url in client.signed_urls([remote], hub.YANK):
        # Semaphore's hub gives no method for a yank's URLs.
        url.method = "DELETE"
        try:
            hub.delete(url)
        except HubError as exc:
            log(
                "Error deleting artifact. Make sure the artifact you are trying to yank "
                f"exists: {exc}"
            )
            raise
    return remote


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    div, exponent, rest = 1024, 0, size // 1024
    while rest >= 1024:
        div *= 1024
        exponent += 1
        rest //= 1024
    return f"{size / div:.1f} {'KMGTPE'[exponent]}B"


def _files(count: int) -> str:
    return "file" if count == 1 else "files"


def _stdin_file() -> str:
    handle, name = tempfile.mkstemp()
    with os.fdopen(handle, "wb") as target:
        shutil.copyfileobj(sys.stdin.buffer, target)
    return name


def _command_flags(operation: str, level: str) -> list[Flag]:
    _, _, id_flag, id_short = LEVELS[level]
    flags = [*GLOBAL_FLAGS, Flag(id_flag, id_short)]
    if operation in ("push", "pull"):
        flags += [Flag("destination", "d"), Flag("force", "f", boolean=True)]
    if operation == "push":
        flags.append(Flag("expire-in", "e"))
    return flags


def usage_error(message: str, command: str) -> int:
    sys.stderr.write(f"Error: {message}\nRun '{command} --help' for usage.\n")
    return 1


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    words = [a for a in arguments if not a.startswith("-")]
    if not words or arguments[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    operation = ALIASES.get(words[0], words[0])
    if operation not in OPERATIONS:
        return usage_error(f'unknown command "{words[0]}" for "artifact"', "artifact")
    if len(words) < 2 or words[1] not in LEVELS:
        command = f"artifact {operation}"
        if len(words) < 2:
            return usage_error(f"{command} needs a level: project, workflow or job", command)
        return usage_error(
            f'unknown level "{words[1]}" for "{command}": use project, workflow or job', command
        )
    level = words[1]
    command = f"artifact {operation} {level}"
    rest = list(arguments)
    rest.remove(words[0])
    rest.remove(level)
    try:
        positional, values = parse(rest, _command_flags(operation, level))
    except UsageError as exc:
        return usage_error(str(exc), command)
    if values["help"]:
        sys.stdout.write(f"Usage:\n  {command} PATH [flags]\n")
        return 0
    if len(positional) != 1:
        return usage_error(f"accepts 1 arg(s), received {len(positional)}", command)
    try:
        return _run(operation, level, positional[0], values)
    except Failed:
        return 1


def _run(operation: str, level: str, path: str, values: dict) -> int:
    _, _, id_flag, _ = LEVELS[level]
    try:
        resolver = Resolver(level, str(values[id_flag]))
        client = Hub.from_environment()
    except HubError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if operation == "push":
        return _push(client, resolver, path, values)
    if operation == "pull":
        return _pull(client, resolver, path, values)
    try:
        remote = yank(client, resolver, path)
    except HubError as exc:
        log(f"Error yanking artifact: {exc}")
        log("Please check if the artifact you are trying to yank exists.")
        return 1
    log(f"Successfully yanked '{remote}' from current {level} artifacts.")
    return 0


def _push(client: Hub, resolver: Resolver, path: str, values: dict) -> int:
    source = _stdin_file() if path in ("-", "/dev/stdin") else path
    if values["expire-in"]:
        sys.stdout.write(EXPIRE_IN_WARNING + "\n")
    try:
        local, remote, count, size = push(
            client, resolver, source, str(values["destination"]), bool(values["force"])
        )
    except HubError as exc:
        log(f"Error pushing artifact: {exc}")
        return 1
    finally:
        if source != path:
            os.remove(source)
    log(f"Successfully pushed artifact for current {resolver.level}.")
    log(f"* Local source: {local}.")
    log(f"* Remote destination: {remote}.")
    log(f"Pushed {count} {_files(count)}. Total of {human_size(size)}")
    return 0


def _pull(client: Hub, resolver: Resolver, path: str, values: dict) -> int:
    try:
        remote, local, count, size = pull(
            client, resolver, path, str(values["destination"]), bool(values["force"])
        )
    except HubError as exc:
        log(f"Error pulling artifact: {exc}")
        log("Please check if the artifact you are trying to pull exists.")
        return 1
    log(f"Successfully pulled artifact for current {resolver.level}.")
    log(f"* Remote source: '{remote}'.")
    log(f"* Local destination: '{local}'.")
    log(f"Pulled {count} {_files(count)}. Total of {human_size(size)}")
    return 0
