"""`test-results publish FILE…` and `gen-pipeline-report`, as Semaphore's test-results CLI
takes them; each JUnit file goes to the server, which parses and keeps it per job and
combines a pipeline's jobs itself."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse

from . import hub
from .flags import Flag, UsageError, parse

VERSION = "0.8.0"  # the Semaphore CLI's whose flags these are
PUBLISH_PATH = "/api/v1/test_results"
MAX_FILE_NAME = 255
# Semaphore's root flags; those about its JSON artifacts (compression, raw copies,
# output trimming) mean nothing here and are taken so that pipelines run unchanged.
GLOBAL_FLAGS = [
    Flag("name", "N"),
    Flag("parser", "p"),
    Flag("suite-prefix", "S"),
    Flag("config"),
    Flag("verbose", "v", boolean=True),
    Flag("trace", boolean=True),
    Flag("no-compress", boolean=True),
    Flag("help", "h", boolean=True),
]
PUBLISH_FLAGS = [
    *GLOBAL_FLAGS,
    Flag("no-raw", boolean=True),
    Flag("force", "f", boolean=True),
    Flag("trim-output-to", "s"),
    Flag("omit-output-for-passed", "o", boolean=True),
]
REPORT_FLAGS = [*GLOBAL_FLAGS, Flag("force", "f", boolean=True)]
USAGE = """Usage:
  test-results [command]

Available Commands:
  publish              parses JUnit XML files and publishes the results to the server
  gen-pipeline-report  combines the pipeline's reports (the server does it already)

Flags:
  -N, --name string           name of the suite
  -p, --parser string         override parser to be used (default "auto")
  -S, --suite-prefix string   prefix for each suite
"""


class Failed(Exception):
    """The command failed; the message says why."""


def _error(message: str) -> int:
    sys.stderr.write(f"test-results: {message}\n")
    return 1


def usage_error(message: str, command: str) -> int:
    sys.stderr.write(f"Error: {message}\nRun '{command} --help' for usage.\n")
    return 1


def xml_files(inputs: list[str]) -> list[str]:
    """Semaphore's LoadFiles: each input must exist; directories are walked; only `.xml`
    files are taken, sorted."""
    found = []
    for path in inputs:
        if not os.path.exists(path):
            raise Failed(f"Input file read failed: stat {path}: no such file or directory")
        if os.path.isdir(path):
            for parent, _, names in os.walk(path):
                found += [os.path.join(parent, n) for n in names if n.endswith(".xml")]
        elif path.endswith(".xml"):
            found.append(path)
    return sorted(found)


def _endpoint(env: dict[str, str], values: dict) -> str:
    base = env.get("SEMAPHORE_ORGANIZATION_URL", "")
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Failed(f"SEMAPHORE_ORGANIZATION_URL is not a server URL: '{base}'")
    query = urllib.parse.urlencode(
        {
            "name": values["name"],
            "parser": values["parser"] or "auto",
            "suite_prefix": values["suite-prefix"],
        }
    )
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, PUBLISH_PATH, query, ""))


def _message(body: bytes, status: int) -> str:
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("message"):
        return str(decoded["message"])
    return f"the server answered {status}"


def publish_one(endpoint: str, token: str, path: str) -> dict:
    """Sends one file; the server's summary of it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Failed(f"cannot read {path}: {exc.strerror}") from None
    # The server keeps names of up to 255 characters; the end of a path says most.
    shown = path if len(path) <= MAX_FILE_NAME else path[-MAX_FILE_NAME:]
    url = endpoint + "&" + urllib.parse.urlencode({"file": shown})
    headers = {"authorization": token, "Content-Type": "application/xml"}
    try:
        answer = hub.request("POST", url, headers, body=lambda: data)
    except hub.Unreachable as exc:
        raise Failed(f"cannot reach the server to publish {path}: {exc}") from None
    if answer.status == 413:
        raise Failed(f"{path} is larger than the server takes ({_message(answer.body, 413)})")
    if not answer.ok:
        raise Failed(_message(answer.body, answer.status))
    return dict(json.loads(answer.body))


def _summary_line(path: str, result: dict) -> str:
    summary = result.get("summary", {})
    parts = [f"{summary.get(k, 0)} {k}" for k in ("passed", "failed", "error", "skipped")]
    return (
        f"* {path}: '{result.get('name', '')}' ({result.get('framework', '')}): "
        f"{summary.get('total', 0)} tests, " + ", ".join(parts)
    )


def publish(inputs: list[str], values: dict, env: dict[str, str]) -> int:
    token = env.get("SEMAPHORE_ARTIFACT_TOKEN", "")
    if not token:
        raise Failed("SEMAPHORE_ARTIFACT_TOKEN is not set: publish runs inside a job")
    endpoint = _endpoint(env, values)
    paths = xml_files(inputs)
    if not paths:
        sys.stdout.write("test-results: no .xml files found; nothing to publish\n")
        return 0
    for path in paths:
        sys.stdout.write(_summary_line(path, publish_one(endpoint, token, path)) + "\n")
    return 0


def gen_pipeline_report(env: dict[str, str]) -> int:
    pipeline = env.get("SEMAPHORE_PIPELINE_ID", "")
    sys.stdout.write(
        "test-results: the server combines the pipeline's reports as jobs publish them: "
        f"GET /api/v1alpha/pipelines/{pipeline}/test_results\n"
    )
    return 0


COMMANDS = {"publish": PUBLISH_FLAGS, "gen-pipeline-report": REPORT_FLAGS}


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] == "--version":
        sys.stdout.write(f"test-results version {VERSION} (blockpost)\n")
        return 0
    words = [a for a in arguments if not a.startswith("-")]
    if not words or arguments[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    name = words[0]
    if name not in COMMANDS:
        return usage_error(f'unknown command "{name}" for "test-results"', "test-results")
    command = f"test-results {name}"
    rest = list(arguments)
    rest.remove(name)
    try:
        positional, values = parse(rest, COMMANDS[name])
    except UsageError as exc:
        return usage_error(str(exc), command)
    if values["help"]:
        sys.stdout.write(f"Usage:\n  {command} [flags] <path>...\n")
        return 0
    env = dict(os.environ)
    try:
        if name == "gen-pipeline-report":
            return gen_pipeline_report(env)
        if not positional:
            return usage_error("requires at least 1 arg(s), only received 0", command)
        return publish(positional, values, env)
    except Failed as exc:
        return _error(str(exc))
