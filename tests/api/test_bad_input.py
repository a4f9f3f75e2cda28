"""Malformed requests get a clear 4xx `{"message": ...}`, never a 500, and change nothing."""

import json

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MakeClient

PROJECTS = "/api/v1alpha/projects"


async def test_oversized_bodies_get_413_before_being_read(alice: httpx.AsyncClient) -> None:
    huge = b'{"metadata": {"name": "' + b"x" * (70 * 1024) + b'"}}'
    declared = await alice.post(
        PROJECTS, content=huge, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json() == {"message": "request body exceeds 65536 bytes"}

    async def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(70):
            yield b"x" * 1024

    streamed = await alice.post(
        PROJECTS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert (await alice.get(PROJECTS)).json() == []


async def test_invalid_json_is_a_400_naming_the_body(alice: httpx.AsyncClient) -> None:
    response = await alice.post(
        PROJECTS, content=b'{"metadata": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("body: is not valid JSON")


async def test_missing_body_is_a_400(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/v1alpha/projects/x/members")
    assert response.status_code in {400, 404}
    assert "message" in response.json()
    login = await alice.post("/api/auth/login")
    assert login.status_code == 400
    assert login.json() == {"message": "body: is required"}


async def test_bad_query_parameters_name_the_parameter(alice: httpx.AsyncClient) -> None:
    for params, message in [
        ({"page": "abc"}, "page: Input should be a valid integer"),
        ({"page": "0"}, "page: Input should be greater than or equal to 1"),
        ({"page_size": "100000"}, "page_size: Input should be less than or equal to 200"),
    ]:
        response = await alice.get(PROJECTS, params=params)
        assert response.status_code == 400
        assert response.json()["message"].startswith(message)


async def test_wrong_method_and_unknown_path_answer_in_json(alice: httpx.AsyncClient) -> None:
    wrong = await alice.put("/api/user")
    assert wrong.status_code == 405
    assert wrong.json() == {"message": "Method Not Allowed"}
    missing = await alice.get("/api/v1alpha/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"message": "no such endpoint"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
project_like = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": json_values,
        "kind": json_values,
        "metadata": st.fixed_dictionaries(
            {},
            optional={
                "name": json_values | st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
                "description": json_values,
            },
        )
        | json_values,
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "visibility": json_values,
                "repository": st.fixed_dictionaries(
                    {}, optional={"url": json_values | st.just("/srv/r"), "run_on": json_values}
                )
                | json_values,
            },
        )
        | json_values,
    },
)


async def test_arbitrary_project_bodies_never_cause_a_5xx(
    app: FastAPI, make_client: MakeClient
) -> None:
    client = await make_client("fuzzer")
    bodies: list[object] = []

    # Hypothesis drives sync functions: draw the bodies first, then send them on this loop.
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=project_like | json_values)
    def collect(body: object) -> None:
        bodies.append(body)

    collect()
    created = 0
    for body in bodies:
        response = await client.post(
            PROJECTS, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        assert response.status_code < 500, (body, response.text)
        assert isinstance(response.json().get("message", ""), str)
        if response.status_code == 200:
            created += 1
        else:
            assert response.status_code in {400, 409}, (body, response.text)
            assert response.json()["message"]
    listed = await client.get(PROJECTS, params={"page_size": 200})
    assert len(listed.json()) == created


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            '{"metadata": {"name": "a\\u0000b"}, "spec": {"repository": {"url": "https://x/y"}}}',
            "metadata.name",
        ),
        (
            '{"metadata": {"name": "p"}, "spec": {"repository": {"url": "https://x/\\ud974"}}}',
            "spec.repository.url",
        ),
        ('{"metadata": {"name": "p", "x\\u0000": 1}}', "metadata.x?"),
    ],
)
async def test_text_no_database_can_store_is_a_400_naming_the_field(
    alice: httpx.AsyncClient, body: str, where: str
) -> None:
    response = await alice.post(
        "/api/v1alpha/projects", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "message": f"{where}: must not contain NUL characters or unpaired surrogates"
    }
    assert (await alice.get("/api/v1alpha/projects")).json() == []


async def test_nul_in_a_query_parameter_or_path_is_a_400_naming_it(
    alice: httpx.AsyncClient,
) -> None:
    query = await alice.get("/api/v1alpha/plumber-workflows?project_id=a%00b")
    assert query.status_code == 400
    assert query.json()["message"].startswith("query parameter project_id: must not contain NUL")
    path = await alice.get("/api/v1alpha/projects/a%00b")
    assert path.status_code == 400
    assert path.json()["message"].startswith("path: must not contain NUL")


async def test_escaped_pairs_and_escaped_backslashes_are_ordinary_text(
    alice: httpx.AsyncClient,
) -> None:
    body = (
        '{"metadata": {"name": "emoji", "description": "ship it \\ud83d\\ude80 \\\\u0000"},'
        ' "spec": {"repository": {"url": "https://x/y"}}}'
    )
    response = await alice.post(
        "/api/v1alpha/projects", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["description"] == "ship it \U0001f680 \\u0000"
