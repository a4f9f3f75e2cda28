"""Schemathesis over the whole OpenAPI document, against a real server, with an admin token:
whatever the generated input, no 5xx, and every 2xx body matches its declared schema.
Bounded for CI (BLOCKPOST_FUZZ_EXAMPLES per operation); raise it for a longer run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
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
