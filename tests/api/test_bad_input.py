"""Malformed requests get a clear 4xx `{"message": ...}`, never a 500, and change nothing."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db.engine import Database
from blockpost.db.models import Project
from blockpost.services import auth
from blockpost.services.principal import Principal
from tests.api.agent_helpers import AGENT_API, ProtocolAgent, create_type
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml
from tests.conftest import MakeClient, MakeUser

PROJECTS = "/api/v1alpha/projects"
WORKFLOWS = "/api/v1alpha/plumber-workflows"


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
    assert wrong.json() == {"message": "PUT is not allowed on /api/user (allowed: GET)"}
    missing = await alice.get("/api/v1alpha/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"message": "no such endpoint"}
    nameless = await alice.patch(
        "/api/v1alpha/projects/", json={"metadata": {"name": "x"}}, follow_redirects=True
    )
    assert nameless.status_code == 405
    assert nameless.json() == {
        "message": "PATCH is not allowed on /api/v1alpha/projects (allowed: GET, POST)"
    }


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


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
HUGE = "9" * 40


def arabic(number: int) -> str:
    """The number in Arabic-Indic digits, which int() reads as the same number."""
    return str(number).translate(ARABIC_INDIC)


@pytest.fixture
async def roomy(
    settings: Settings, db: Database, make_user: MakeUser
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(anonymous, signed-in) clients of an app taking bodies up to the default 8 MiB: the
    suite's app takes 64 KiB, too little for some attacks."""
    default = Settings.model_fields["max_body_bytes"].default
    app = create_app(settings.model_copy(update={"max_body_bytes": default}))
    user = await make_user("roomy")
    async with db.session() as session:
        secret, _ = await auth.create_token(session, Principal.of(user), actor=None)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as anon,
        httpx.AsyncClient(
            transport=transport,
            base_url="http://test",
            headers={"Authorization": f"Token {secret}"},
        ) as signed_in,
    ):
        yield anon, signed_in
    await app.state.db.dispose()


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


async def test_ids_in_other_digits_or_past_the_column_name_nothing(
    rig: EngineRig, make_user: MakeUser
) -> None:
    """Unicode digits never stand for the number they look like, and numbers no column
    holds are a 4xx, not an overflow: nothing is launched, described or removed."""
    bob = await make_user("bob")
    added = await rig.api.post(f"{API}/projects/rig/members", json={"username": "bob"})
    assert added.status_code == 201
    schedule = await rig.api.post(
        f"{API}/schedules",
        json={
            "yml_definition": "apiVersion: v1.0\nkind: Schedule\nmetadata: {name: nightly}\n"
            "spec: {project: rig, branch: master, at: '0 3 * * *'}\n"
        },
    )
    assert schedule.status_code == 200, schedule.text
    task = await rig.api.post("/api/project/rig/tasks", json={"template_id": 1})
    assert task.status_code == 201, task.text
    async with rig.app.state.db.session() as session:
        project_number = await session.scalar(select(Project.number))
    assert project_number is not None
    workflows_before = len((await rig.api.get(WORKFLOWS, params={"project_id": "rig"})).json())

    for number in (bob.id, task.json()["id"], project_number):
        for lookalike in (arabic(number), "²", "%C2%B2", HUGE, "9" * 5000):
            described = await rig.api.get(f"/api/project/rig/tasks/{lookalike}")
            assert described.status_code == 404, (lookalike, described.text)
            assert described.json()["message"].startswith("task ")
            by_number = await rig.api.get(f"/api/project/{lookalike}/tasks/{task.json()['id']}")
            assert by_number.status_code == 404, (lookalike, by_number.text)
            assert by_number.json()["message"].startswith("project ")
            removed = await rig.api.delete(f"{API}/projects/rig/members/{lookalike}")
            assert removed.status_code == 404, (lookalike, removed.text)
            assert removed.json()["message"].endswith("is not a member of this project")
    for template in (arabic(1), "²", "١٢"):
        launched = await rig.api.post("/api/project/rig/tasks", json={"template_id": template})
        assert launched.status_code == 404, (template, launched.text)
        assert launched.json()["message"].startswith(f"template {template!r} not found")
    for template in (HUGE, int(HUGE), 2**31, 2**63):
        launched = await rig.api.post("/api/project/rig/tasks", json={"template_id": template})
        assert launched.status_code == 400, (template, launched.text)
        assert launched.json()["message"] == (
            "template_id: must be a template's number (at most 2147483647) or id"
        )

    members = (await rig.api.get(f"{API}/projects/rig/members")).json()["members"]
    assert [m["username"] for m in members] == ["admin", "bob"]
    workflows_after = len((await rig.api.get(WORKFLOWS, params={"project_id": "rig"})).json())
    assert workflows_after == workflows_before
    assert (await rig.api.get(f"/api/project/rig/tasks/{task.json()['id']}")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "request_args", "message"),
    [
        ("GET", PROJECTS, {"params": {"page": HUGE}}, "page: Input should be less than"),
        ("GET", PROJECTS, {"params": {"page_size": str(2**63)}}, "page_size: Input should be"),
        ("GET", PROJECTS, {"params": {"page": "²"}}, "page: Input should be a valid integer"),
        ("GET", "/api/users", {"params": {"page_size": HUGE}}, "page_size: Input should be"),
        ("GET", "/api/v1alpha/agents", {"params": {"page_size": HUGE}}, "page_size: Input"),
        (
            "GET",
            "/api/v1alpha/pipelines",
            {"params": {"project_id": "p", "created_after": str(2**63)}},
            "created_after: must be a Unix timestamp",
        ),
        (
            "POST",
            f"{PROJECTS}/p/members",
            {"json": {"user_id": 2**31}},
            "user_id: Input should be less than or equal to 2147483647",
        ),
        (
            "POST",
            "/api/v1alpha/self_hosted_agent_types",
            {
                "json": {
                    "metadata": {"name": "s1-x"},
                    "spec": {"agent_name_settings": {"release_after": 2**63}},
                }
            },
            "spec.agent_name_settings.release_after: Input should be less than",
        ),
        (
            "POST",
            PROJECTS,
            {
                "content": b'{"metadata": {"name": ' + b"9" * 5000 + b"}}",
                "headers": {"Content-Type": "application/json"},
            },
            "body: holds a number of more than 4300 digits",
        ),
    ],
)
async def test_integers_no_column_holds_are_a_400_naming_the_field(
    admin: httpx.AsyncClient, method: str, path: str, request_args: dict[str, Any], message: str
) -> None:
    project = {"metadata": {"name": "p"}, "spec": {"repository": {"url": "https://x/y"}}}
    assert (await admin.post(PROJECTS, json=project)).status_code == 200
    response = await admin.request(method, path, **request_args)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(message), response.text
    assert [p["metadata"]["name"] for p in (await admin.get(PROJECTS)).json()] == ["p"]
    members = (await admin.get(f"{PROJECTS}/p/members")).json()["members"]
    assert [m["username"] for m in members] == ["admin"]


async def test_json_nested_deeper_than_32_levels_is_a_400_before_any_parse(
    roomy: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    anon, alice = roomy
    deep = b"[" * 100_000 + b"]" * 100_000
    escaped = b'{"metadata": {"name": "a\\u0000", "description": ' + b"[" * 900 + b"]" * 900 + b"}}"
    shallow = (
        b'{"metadata": {"name": "ok", "description": "' + b"[" * 100 + b'"},'
        b' "spec": {"repository": {"url": "https://x/y"}}}'
    )
    for client, path, body in [
        (anon, "/api/auth/login", deep),
        (alice, PROJECTS, deep),
        (alice, PROJECTS, escaped),  # the NUL check parses JSON: it must not recurse either
        (alice, PROJECTS, b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    ]:
        response = await client.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert response.json() == {"message": "body: nested deeper than 32 levels"}
    assert (await alice.get(PROJECTS)).json() == []
    brackets_in_text = await alice.post(
        PROJECTS, content=shallow, headers={"Content-Type": "application/json"}
    )
    assert brackets_in_text.status_code == 200, brackets_in_text.text


async def test_form_keys_nested_deep_or_by_the_thousand_are_a_400_on_the_login_route(
    roomy: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    anon, _ = roomy
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    deep_key = await anon.post("/api/auth/login", content="a." * 100_000 + "a=1", headers=form)
    assert deep_key.status_code == 400
    assert deep_key.json()["message"].endswith("…: a form key has at most 16 parts")
    deeper_each_time = "&".join("a." * depth + "b=1" for depth in range(1, 200))
    nested = await anon.post("/api/auth/login", content=deeper_each_time, headers=form)
    assert nested.json() == {
        "message": "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.b: a form key has at most 16 parts"
    }
    many = await anon.post("/api/auth/login", content="&".join(["k=1"] * 100_000), headers=form)
    assert many.status_code == 400
    assert many.json() == {"message": "body: a form has at most 1000 fields"}
    usual = await anon.post("/api/auth/login", data={"auth": "nobody", "password": "x"})
    assert usual.status_code == 401


async def test_a_body_that_is_not_utf8_is_a_400_saying_so(alice: httpx.AsyncClient) -> None:
    response = await alice.post(
        PROJECTS,
        content=b'{"metadata": {"name": "\xff"}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"message": "body: is not UTF-8 (invalid start byte at byte 23)"}


DEEP_WHEN = " and ".join(["branch = 'master'"] * 20_000)


async def test_pipelines_that_nest_or_chain_too_far_are_validation_errors(
    roomy: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    _, alice = roomy
    cases = {
        pipeline_yaml(block("B", "j", extra=f'    run:\n      when: "{DEEP_WHEN}"\n')): (
            "#/blocks/0/run/when",
            "more than 100 conditions in one expression",
        ),
        "- " * 100_000 + "x": ("#", "nested deeper than 256 levels"),
        "[" * 100_000: ("#", "nested deeper than 256 levels"),
        pipeline_yaml(block("B", "j", extra=f"    x: {'9' * 5000}\n")): (
            "#/blocks/0/x",
            "integer does not fit in 64 bits",
        ),
    }
    for text, (path, message) in cases.items():
        response = await alice.post("/api/v1alpha/yaml", json={"yaml_definition": text})
        assert response.status_code == 400, response.text
        errors = response.json()["errors"]
        assert (errors[0]["path"], message in errors[0]["message"]) == (path, True), errors


async def test_a_run_of_a_pipeline_that_nests_too_far_ends_malformed(rig: EngineRig) -> None:
    rig.repo.commit(
        {
            ".semaphore/semaphore.yml": pipeline_yaml(
                block("B", "j", extra=f'    run:\n      when: "{DEEP_WHEN}"\n')
            ),
            ".semaphore/deep.yml": "- " * 100_000 + "x",
        },
        "deep",
    )
    when = (await rig.run())["pipeline_id"]
    deep = (await rig.run(pipeline_file=".semaphore/deep.yml"))["pipeline_id"]
    await rig.settle()
    for ppl, words in [(when, "more than 100 conditions"), (deep, "nested deeper than 256")]:
        body = (await rig.pipeline(ppl))["pipeline"]
        assert (body["state"], body["result"], body["result_reason"]) == (
            "done",
            "failed",
            "malformed",
        )
        assert words in body["error_description"]


async def test_a_schedule_that_can_never_fire_is_a_400(rig: EngineRig) -> None:
    for at, reason in [
        ("0 0 31 2 *", "'0 0 31 2 *' names no day that exists, such as 31 February"),
        ("0 0 31 4,6,9,11 *", "names no day that exists"),
    ]:
        response = await rig.api.post(
            f"{API}/schedules",
            json={
                "yml_definition": "apiVersion: v1.0\nkind: Schedule\nmetadata: {name: never}\n"
                f"spec: {{project: rig, branch: master, at: '{at}'}}\n"
            },
        )
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith("yml_definition: spec.at: ")
        assert reason in response.json()["message"]
    odd_keys = await rig.api.post(
        f"{API}/schedules",
        json={
            "yml_definition": "apiVersion: v1.0\nkind: Schedule\nmetadata: {name: odd}\n"
            "spec: {project: rig, branch: master, at: '0 3 * * *', 1: x, z: y}\n"
        },
    )
    assert odd_keys.json() == {"message": "yml_definition: spec: unknown key '1'"}
    assert (await rig.api.get(f"{API}/schedules", params={"project_id": "rig"})).json() == []


async def test_an_agent_interrupted_after_the_last_date_is_a_400(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    agent = ProtocolAgent(app, await create_type(admin))
    assert (await agent.register()).status_code == 201
    for interrupted_at in (2**40, 2**63, 10**40):
        response = await agent.client.post(
            f"{AGENT_API}/sync",
            json={"state": "waiting-for-jobs", "interrupted_at": interrupted_at},
            headers=agent.auth(),
        )
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith("interrupted_at: Input should be less than")
    assert (await agent.sync("waiting-for-jobs"))["action"] == "continue"
    await agent.close()
