"""`cache store|restore|has_key|delete|clear|list|usage`, as Semaphore's cache CLI
(semaphoreci/toolbox cache-cli) behaves: its arguments, its messages on stdout, its exit
codes. A failure prints `error: …` and exits 0 unless CACHE_FAIL_ON_ERROR=true (then 1), as
Semaphore's does, so a cache outage never fails a job that did not ask it to; a restore that
finds nothing is a MISS, not an error; `has_key` of a missing key exits 1."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from typing import Any, Callable

from .cache_archive import ArchiveError, compress, compression_here, unpack
from .cache_client import CacheError, Client, Exists, Missing, TooLarge
from .cache_lookup import git_branch, lookup
from .flags import Flag, UsageError, parse

SORT_KEYS = ("SIZE", "STORE_TIME", "ACCESS_TIME")
USAGE = """Utility for managing dependency caches

Usage:
  cache [command]

Available Commands:
  clear         Remove all keys in the cache.
  delete        Delete a key from the cache.
  has_key       Check if a key is present in the cache.
  is_not_empty  Check if the cache is not empty.
  list          List all keys in the cache.
  restore       Restore keys from the cache.
  store         Store keys in the cache.
  usage         Get a summary of cache usage.

Use "cache [command] --help" for more information about a command.
"""
COMMAND_USAGE = {
    "store": "store [key path] [-c|--cleanup-by SIZE|STORE_TIME|ACCESS_TIME]",
    "restore": "restore [keys]",
    "has_key": "has_key [key]",
    "is_not_empty": "is_not_empty",
    "delete": "delete [key]",
    "clear": "clear",
    "list": "list [-s|--sort-by SIZE|STORE_TIME|ACCESS_TIME]",
    "usage": "usage",
}


class Stop(Exception):
    """The command ends here with this exit code (its messages are printed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def say(message: str) -> None:
    """The cache CLI logs plain messages to stdout. A reader that stopped reading (`| grep
    -q`) must not stop a store or restore halfway: the rest of the messages go nowhere."""
    try:
        sys.stdout.write(message + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stdout for the rest of the run)


def fail(message: str) -> Stop:
    """utils.Check: `error: …`, exit 0 unless CACHE_FAIL_ON_ERROR=true."""
    say(f"error: {message}")
    return Stop(1 if os.environ.get("CACHE_FAIL_ON_ERROR") == "true" else 0)


def duration(seconds: float) -> str:
    """Go's time.Duration text, as the CLI prints it: 1.5s, 12.345ms, 300µs."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3f}".rstrip("0").rstrip(".") + unit
    return f"{int(seconds * 1e9)}ns"


def human_size(size: int) -> str:
    """files.HumanReadableSize: 512.0, 1.5K, 9.0G."""
    if size < 1024:
        return f"{float(size):.1f}"
    divisor, exponent, quotient = 1024, 0, size // 1024
    while quotient >= 1024:
        divisor, exponent, quotient = divisor * 1024, exponent + 1, quotient // 1024
    return f"{size / divisor:.1f}{'KMGTPE'[exponent]}"


def normalize(key: str) -> str:
    normalized = key.replace("/", "-")
    if normalized != key:
        say(f"Key '{key}' is normalized to '{normalized}'.")
    return normalized


def incorrect(command: str) -> Stop:
    say("Incorrect number of arguments!")
    say(f"Usage:\n  cache {COMMAND_USAGE[command]}")
    return Stop(0)


def store_one(client: Client, raw_key: str, path: str) -> None:
    key = normalize(raw_key)
    if not os.path.exists(path):
        say(f"'{path}' doesn't exist locally.")
        return
    if client.has_key(key):
        say(f"Key '{key}' already exists.")
        return
    compression = compression_here()
    handle, archive = tempfile.mkstemp(prefix="cache-archive-")
    os.close(handle)
    try:
        started = time.monotonic()
        say(f"Compressing {path}...")
        try:
            compress(path, archive, compression)
        except (ArchiveError, OSError) as exc:
            say(f"Error compressing {path}: {exc}")
            return
        size = os.path.getsize(archive)
        say(
            f"Compression complete. Duration: {duration(time.monotonic() - started)}. "
            f"Size: {human_size(size)} bytes."
        )
        started = time.monotonic()
        say(f"Uploading '{path}' with cache key '{key}'...")
        try:
            evicted = client.store(key, archive, compression)
        except Exists:
            say(f"Key '{key}' already exists.")
            return
        except TooLarge as exc:
            say(str(exc))
            return
        if evicted:
            say("Not enough space, deleting keys based on ACCESS_TIME...")
            for name in evicted:
                say(f"Key '{name}' is deleted.")
        say(f"Upload complete. Duration: {duration(time.monotonic() - started)}.")
    finally:
        os.remove(archive)


def store(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    if values["cleanup-by"] and values["cleanup-by"] not in SORT_KEYS:
        raise fail(f"sorting keys by '{values['cleanup-by']}' is not supported")
    if len(arguments) not in (0, 2):
        raise incorrect("store")
    if arguments:
        store_one(client, arguments[0], arguments[1])
        return 0
    detected = lookup(os.getcwd(), git_branch(), restore=False)
    if not detected:
        say("Nothing to store in cache.")
    for found in detected:
        say(f"Detected {found.lock_file}.")
        for entry in found.entries:
            say(f"Using default cache path '{entry.path}'.")
            store_one(client, entry.keys[0], entry.path)
    return 0


def matching(names: list[str], pattern: str) -> str:
    """The first (newest) key the pattern matches anywhere in, as Go's regexp.MatchString
    finds it; a pattern that is no regular expression matches nothing, as in Go."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return ""
    return next((name for name in names if compiled.search(name)), "")


def restore_first(client: Client, raw_keys: list[str]) -> None:
    names = [key["name"] for key in client.listing()["keys"]]
    for raw_key in raw_keys:
        key = normalize(raw_key)
        found = key if key in names else matching(names, key)
        if not found:
            say(f"MISS: '{key}'.")
            continue
        say(f"HIT: '{key}', using key '{found}'.")
        download_and_unpack(client, found)
        return


def download_and_unpack(client: Client, key: str) -> None:
    started = time.monotonic()
    say(f"Downloading key '{key}'...")
    try:
        entry, stream = client.open_archive(key)
    except Missing:
        say(f"MISS: '{key}'.")  # deleted since it was listed
        return
    say(f"Unpacking '{key}'...")
    try:
        with stream:
            restored = unpack(stream, entry["compression"])
    except ArchiveError as exc:
        raise fail(str(exc)) from None
    elapsed = duration(time.monotonic() - started)
    say(f"Download complete. Duration: {elapsed}. Size: {human_size(entry['size'])} bytes.")
    say(f"Unpack complete. Duration: {elapsed}.")
    say(f"Restored: {restored}.")


def restore(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    if len(arguments) > 1:
        raise incorrect("restore")
    if arguments:
        restore_first(client, arguments[0].split(","))
        return 0
    detected = lookup(os.getcwd(), git_branch(), restore=True)
    if not detected:
        say("Nothing to restore from cache.")
    for found in detected:
        say(f"Detected {found.lock_file}.")
        for entry in found.entries:
            keys = ",".join(entry.keys)
            say(f"Fetching '{entry.path}' directory with cache keys '{keys}'...")
            restore_first(client, entry.keys)
    return 0


def has_key(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    if len(arguments) != 1:
        raise incorrect("has_key")
    key = normalize(arguments[0])
    if client.has_key(key):
        say(f"Key '{key}' exists in the cache store.")
        return 0
    say(f"Key '{key}' doesn't exist in the cache store.")
    return 1


def is_not_empty(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    """Exit 0 when the project has any key, 1 when it has none (no message)."""
    return 0 if client.listing()["keys"] else 1


def delete(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    if len(arguments) != 1:
        raise incorrect("delete")
    key = normalize(arguments[0])
    try:
        client.delete(key)
    except Missing:
        say(f"Key '{key}' doesn't exist in the cache store.")
        return 0
    say(f"Key '{key}' is deleted.")
    return 0


def clear(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    client.clear()
    say("Deleted all caches.")
    return 0


def rfc822(stamp: str) -> str:
    """Go's time.RFC822 ("02 Jan 06 15:04 MST") of the server's ISO time, in UTC."""
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return moment.strftime("%d %b %y %H:%M UTC")


def listing(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    order = str(values["sort-by"] or "STORE_TIME")
    if order not in SORT_KEYS:
        raise fail(f"sorting keys by '{order}' is not supported")
    keys: list[dict[str, Any]] = client.listing()["keys"]
    if not keys:
        say("Cache is empty.")
        return 0
    field = {"SIZE": "size", "STORE_TIME": "stored_at", "ACCESS_TIME": "last_used_at"}[order]
    keys = sorted(keys, key=lambda key: key[field], reverse=True)
    lines = [f"{'NAME':<60} {'SIZE':<12} {'STORED AT':<22} {'ACCESSED AT':<22}"]
    for key in keys:
        lines.append(
            f"{key['name']:<60} {human_size(key['size']):<12} "
            f"{rfc822(key['stored_at']):<22} {rfc822(key['last_used_at']):<22}"
        )
    say("\n".join(lines) + "\n")
    return 0


def usage(client: Client, arguments: list[str], values: dict[str, object]) -> int:
    found = client.listing()
    say(f"FREE SPACE: {human_size(found['free'])}")
    say(f"USED SPACE: {human_size(found['used'])}")
    return 0


Command = Callable[[Client, "list[str]", "dict[str, object]"], int]
COMMANDS: dict[str, tuple[Command, list[Flag]]] = {
    "store": (store, [Flag("cleanup-by", "c")]),
    "restore": (restore, []),
    "has_key": (has_key, []),
    "is_not_empty": (is_not_empty, []),
    "delete": (delete, []),
    "clear": (clear, []),
    "list": (listing, [Flag("sort-by", "s")]),
    "usage": (usage, []),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        sys.stderr.write(f'Error: unknown command "{name}" for "cache"\n')
        sys.stderr.write("Run 'cache --help' for usage.\n")
        return 1
    command, flags = COMMANDS[name]
    try:
        arguments, values = parse(rest, [*flags, Flag("help", "h", boolean=True)])
    except UsageError as exc:
        sys.stderr.write(f"Error: {exc}\nUsage:\n  cache {COMMAND_USAGE[name]}\n")
        return 1
    if values["help"]:
        sys.stdout.write(f"Usage:\n  cache {COMMAND_USAGE[name]}\n")
        return 0
    try:
        try:
            client = Client.from_environment()
            return command(client, arguments, values)
        except CacheError as exc:
            raise fail(str(exc)) from None
    except Stop as stop:
        return stop.code
