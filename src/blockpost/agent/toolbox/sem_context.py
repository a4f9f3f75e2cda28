"""`sem-context put KEY=VALUE | get KEY | delete KEY`: values shared by the pipelines of a
workflow, kept as Semaphore's are, in the workflow's artifacts.

Each pipeline writes to its own context, `.workflow-context/<pipeline id>/`; a read looks
in this pipeline's context, then in those of the pipelines it was promoted from
(SEMAPHORE_PIPELINE_<N>_ARTEFACT_ID, the highest N is this one), nearest first. A delete
cannot touch a parent pipeline's context, so it leaves a marker in `.deleted/` of its own.
Exit codes as Semaphore's: 1 no such key (or it exists already), 2 the artifact store
failed, 3 bad arguments; `--ignore-failure` makes every failure exit 0.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

from .artifact import Resolver, pull, push, yank
from .flags import Flag, UsageError, parse
from .hub import Hub, HubError, Missing

KEY = re.compile(r"[A-Za-z0-9_-]{3,256}")
VALUE_LIMIT = 20000
ARTEFACT_ID = re.compile(r"^SEMAPHORE_PIPELINE_(\d+)_ARTEFACT_ID$")
ROOT = ".workflow-context"
USAGE = """Share variables between your Semaphore jobs

Usage:
  sem-context put KEY=VALUE [-f|--force]
  sem-context get KEY [--fallback VALUE]
  sem-context delete KEY

Flags:
      --ignore-failure   Ignore if failure occurs, and always return 0.
"""
KEY_RULE = (
    "Key must be between 3 and 256 characters in length, and can contain letters, digits, "
    "and characters _ and - (no spaces)"
)


class ContextError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _not_found(key: str) -> ContextError:
    return ContextError(f"Cant find the key '{key}'", 1)


def _store_failed() -> ContextError:
    return ContextError("Error with establishing connection with artifact server", 2)


def hierarchy(env: dict | None = None) -> list[str]:
    """Context ids, this pipeline's first, then its parents' nearest first."""
    environment = os.environ if env is None else env
    numbered = {}
    for name, value in environment.items():
        match = ARTEFACT_ID.match(name)
        if match and value:
            numbered[int(match.group(1))] = value
    if numbered:
        return [numbered[n] for n in sorted(numbered, reverse=True)]
    current = environment.get("SEMAPHORE_PIPELINE_ID", "")
    if not current:
        raise ContextError("SEMAPHORE_PIPELINE_ID is not set: not a pipeline's job", 2)
    return [current]


def check_key(key: str) -> None:
    # Anchored, unlike Semaphore's search for 3 good characters anywhere: a key becomes
    # an artifact's file name, where '/' or '..' must never reach.
    if not KEY.fullmatch(key):
        raise ContextError(KEY_RULE, 3)


def check_value(value: str) -> None:
    if value == "":
        raise ContextError("Value cant be an empty string", 3)
    if len(value.encode()) > VALUE_LIMIT:
        raise ContextError("Value cant be more than 20KB in size", 3)


class Store:
    """Keys as workflow artifacts, through the artifact hub."""

    def __init__(self, client: Hub, resolver: Resolver) -> None:
        self.client = client
        self.resolver = resolver
        self.scratch = tempfile.mkdtemp()

    def close(self) -> None:
        for name in os.listdir(self.scratch):
            os.remove(os.path.join(self.scratch, name))
        os.rmdir(self.scratch)

    def _read(self, remote: str) -> str | None:
        """The stored text, or None when there is none."""
        local = os.path.join(self.scratch, "value")
        try:
            pull(self.client, self.resolver, remote, local, force=True)
        except Missing:
            return None
        except HubError:
            raise _store_failed() from None
        if not os.path.exists(local):
            return None  # the hub listed nothing under that name
        with open(local, encoding="utf-8", errors="replace") as stored:
            text = stored.read()
        os.remove(local)
        return text

    def _write(self, remote: str, value: str) -> None:
        local = os.path.join(self.scratch, "upload")
        with open(local, "w", encoding="utf-8") as target:
            target.write(value)
        try:
            push(self.client, self.resolver, local, remote, force=True)
        except HubError:
            raise _store_failed() from None
        finally:
            os.remove(local)

    def _remove(self, remote: str) -> None:
        try:
            yank(self.client, self.resolver, remote)
        except Missing:
            return
        except HubError:
            raise _store_failed() from None

    def get(self, key: str, context: str) -> str | None:
        return self._read(f"{ROOT}/{context}/{key}")

    def deleted(self, key: str, context: str) -> bool:
        return self._read(f"{ROOT}/{context}/.deleted/{key}") is not None

    def put(self, key: str, value: str, context: str) -> None:
        self._write(f"{ROOT}/{context}/{key}", value)
        self._remove(f"{ROOT}/{context}/.deleted/{key}")

    def delete(self, key: str, context: str) -> None:
        self._remove(f"{ROOT}/{context}/{key}")
        self._write(f"{ROOT}/{context}/.deleted/{key}", "")


def search(store: Store, key: str, contexts: list[str]) -> str | None:
    """The value this pipeline sees: the nearest context that has the key, unless a
    nearer one marked it deleted."""
    for context in contexts:
        value = store.get(key, context)
        if value:
            return value
        if store.deleted(key, context):
            return None
    return None


def run(arguments: list[str]) -> str:
    """What to print on success; raises ContextError."""
    words = [argument for argument in arguments if not argument.startswith("-")]
    if not words or words[0] not in ("put", "get", "delete"):
        named = f'"{words[0]}"' if words else "given"
        raise ContextError(f'unknown command {named} for "sem-context"', 1)
    command = words[0]
    rest = list(arguments)
    rest.remove(command)
    flags = [Flag("ignore-failure", boolean=True)]
    if command == "put":
        flags.append(Flag("force", "f", boolean=True))
    if command == "get":
        flags.append(Flag("fallback"))
    try:
        positional, values = parse(rest, flags)
    except UsageError as exc:
        raise ContextError(str(exc), 1) from None
    if command == "put":
        parts = positional[0].split("=") if len(positional) == 1 else []
        if len(parts) != 2:
            raise ContextError("Put command expects one argument in form of key=value", 3)
        key, value = parts
        check_key(key)
        check_value(value)
    else:
        if len(positional) != 1:
            raise ContextError("Exactly one argument expected", 3)
        key, value = positional[0], ""
        check_key(key)
    contexts = hierarchy()
    try:
        store = Store(Hub.from_environment(), Resolver("workflow"))
    except HubError as exc:
        raise ContextError(str(exc), 2) from None
    try:
        existing = search(store, key, contexts)
        if command == "get":
            if existing is not None:
                return existing
            if values["fallback"]:
                return str(values["fallback"])
            raise _not_found(key)
        if command == "put":
            if existing is not None and not values["force"]:
                raise ContextError(f"Key {key} already exists", 1)
            store.put(key, value, contexts[0])
            return "Key value pair successfully stored"
        if existing is None:
            raise ContextError(f"Key {key} does not exist", 1)
        store.delete(key, contexts[0])
        return "Key successfully deleted"
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    try:
        sys.stdout.write(run(arguments) + "\n")
    except ContextError as exc:
        sys.stderr.write(f"{exc}\n")
        return 0 if "--ignore-failure" in arguments else exc.code
    return 0
