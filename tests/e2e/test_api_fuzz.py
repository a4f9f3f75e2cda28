"""Schemathesis over the whole OpenAPI document, against a real server, with an admin token:
whatever the generated input, no 5xx, and every 2xx body matches its declared schema.
Bounded for CI (BLOCKPOST_FUZZ_EXAMPLES per operation); raise it for a longer run.

Beside what the schema allows, the generated input mixes in what attackers try: digits that
are not ASCII ("²", "١٢"), numbers no database column holds, JSON nested far too deep, and
names that exist (so a lookup gets past its first 404). Inputs too big or too odd for the
generator (forms with 100,000 nested keys, 20,000 `and`s) are a list of cases of their own."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from blockpost.app import create_app
from blockpost.config import Settings
from tests.support.databases import fresh_database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("BLOCKPOST_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def fuzzed_server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[tuple[ServerProcess, str]]:
    data = tmp_path_factory.mktemp("fuzz")
    # a database of its own: the server outlives single tests, whose fixtures wipe theirs
    with fresh_database(database_url, data, "fuzz") as url:
        yield from _serve(url, data)


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[tuple[ServerProcess, str]]:
    """Apart from the fuzzed one: what the fuzzer may rename or delete with a valid body
    (the project `fuzz`, its members) is what these tests check stays as it was."""
    data = tmp_path_factory.mktemp("hostile")
    with fresh_database(database_url, data, "hostile") as url:
        yield from _serve(url, data)


def _serve(url: str, data: Path) -> Iterator[tuple[ServerProcess, str]]:
    server = ServerProcess(url, data / "data").start()
    try:
        with server.admin_client() as api:
            # something to find: a project, an agent type
            api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "fuzz"}, "spec": {"repository": {"url": "https://x/y"}}},
            )
            api.post("/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": "s1-fuzz"}})
            yield server, str(api.headers["Authorization"])
    finally:
        server.stop()


def _openapi() -> dict:
    """The document the server serves (it does not depend on the database or data dir)."""
    app = create_app(Settings(data_dir=Path("/nonexistent"), secret_key="unused"))
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())

# Text that looks like a number: digits str.isdigit() or int() take though they are not
# ASCII, spellings int() is lenient with, and numbers past every column.
ODD_DIGITS = st.sampled_from(
    [
        "²",
        "\u0661",
        "\u0661\u0662",
        "\uff11\uff12",
        "1_000",
        " 7",
        "0" * 20 + "1",
        "9" * 40,
        "9" * 4000,
    ]
)
HUGE = st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**40]) | st.integers(2**31, 10**400)
DEEP = st.integers(33, 300).map(lambda levels: json.loads("[" * levels + "]" * levels))
KNOWN = st.sampled_from(["fuzz", "s1-fuzz", "1", "admin"])


def _sometimes(value: Any, odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `value`, so the fuzzer's own search goes on; now and then an odd one."""
    return st.one_of(st.just(value), st.just(value), odd)


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {name: _sometimes(value, ODD_DIGITS | KNOWN) for name, value in path_parameters.items()}
    )


@schema.hook
def flatmap_query(
    context: schemathesis.HookContext, query: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    assert context.operation is not None
    numeric = {p.name for p in context.operation.query if '"integer"' in json.dumps(p.definition)}
    if not numeric:
        return st.just(query)
    given = query or {}
    odd = st.fixed_dictionaries(
        {name: st.just(value) for name, value in given.items() if name not in numeric},
        optional=dict.fromkeys(numeric, HUGE | ODD_DIGITS),
    )
    return _sometimes(query, odd)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    if not isinstance(body, dict) or not body:
        return st.just(body)
    keys = st.sampled_from(sorted(body))
    return _sometimes(body, st.builds(lambda key, odd: {**body, key: odd}, keys, HUGE | DEEP))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_input_makes_a_5xx_or_a_response_off_its_schema(
    case: schemathesis.Case, fuzzed_server: tuple[ServerProcess, str]
) -> None:
    server, authorization = fuzzed_server
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": authorization},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
DEEP_WHEN = " and ".join(["branch = 'master'"] * 20_000)
PIPELINE = (
    "version: v1.0\nagent: {machine: {type: e1-standard-2}}\nblocks:\n"
    '  - name: B\n    run: {when: "%s"}\n    task: {jobs: [{commands: [x]}]}\n'
)
SCHEDULE = (
    "apiVersion: v1.0\nkind: Schedule\nmetadata: {name: x}\n"
    "spec: {project: fuzz, branch: main, at: '%s'}\n"
)
HOSTILE: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/auth/login", {"content": "a." * 100_000 + "a=1", "headers": FORM}),
    (
        "POST",
        "/api/auth/login",
        {"content": "&".join("a." * n + "b=1" for n in range(1000)), "headers": FORM},
    ),
    ("POST", "/api/auth/login", {"content": "&".join(["k=1"] * 100_000), "headers": FORM}),
    (
        "POST",
        "/api/auth/login",
        {"content": "[" * 100_000, "headers": {"Content-Type": "application/json"}},
    ),
    ("POST", "/api/v1alpha/projects", {"content": '{"a":' * 100_000 + "1" + "}" * 100_000}),
    ("POST", "/api/v1alpha/projects", {"content": '{"metadata": {"name": ' + "9" * 5000 + "}}"}),
    ("POST", "/api/v1alpha/yaml", {"json": {"yaml_definition": "- " * 100_000 + "x"}}),
    ("POST", "/api/v1alpha/yaml", {"json": {"yaml_definition": PIPELINE % DEEP_WHEN}}),
    ("POST", "/api/v1alpha/schedules", {"json": {"yml_definition": SCHEDULE % "0 0 31 2 *"}}),
    ("GET", "/api/project/%C2%B2/tasks/1", {}),
    ("GET", "/api/project/fuzz/tasks/\u0661", {}),
    ("GET", "/api/project/" + "9" * 40 + "/tasks/" + "9" * 40, {}),
    ("POST", "/api/project/fuzz/tasks", {"json": {"template_id": 10**40}}),
    ("POST", "/api/project/fuzz/tasks", {"json": {"template_id": "\u0661"}}),
    ("DELETE", "/api/v1alpha/projects/fuzz/members/\u0661", {}),
    ("DELETE", "/api/v1alpha/projects/fuzz/members/" + "9" * 40, {}),
    ("POST", "/api/v1alpha/projects/fuzz/members", {"json": {"user_id": 2**63}}),
    ("GET", "/api/v1alpha/projects", {"params": {"page": 10**40, "page_size": "\u0661"}}),
    ("GET", "/api/v1alpha/pipelines", {"params": {"project_id": "fuzz", "done_after": 2**63}}),
]


@pytest.mark.parametrize(("method", "path", "request_args"), HOSTILE)
def test_hostile_input_gets_a_4xx_naming_why_and_leaves_the_server_serving(
    hostile_server: tuple[ServerProcess, str], method: str, path: str, request_args: dict[str, Any]
) -> None:
    server, authorization = hostile_server
    headers = {"Authorization": authorization, **request_args.pop("headers", {})}
    with httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
        response = client.request(method, path, **request_args)
        assert 400 <= response.status_code < 500, response.text
        message = response.json()["message"]
        assert isinstance(message, str)
        assert message
        assert client.get("/healthz").status_code == 200
        members = client.get("/api/v1alpha/projects/fuzz/members")
        assert [m["username"] for m in members.json()["members"]] == ["admin"], members.text
