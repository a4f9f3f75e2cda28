"""The OpenAPI document tells the truth: human summaries, only statuses the server sends with
the `{"message"}` shape it sends them in, tags in a user's order, and request-body examples
that work when sent to the server. Walks the whole document, so new routes are covered."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from blockpost.api import examples, openapi
from blockpost.api.middleware import is_protocol, is_public
from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db.engine import Database
from blockpost.engine.service import Engine
from blockpost.services import users
from tests.api.agent_helpers import ProtocolAgent, create_type
from tests.api.engine_rig import block, pipeline_yaml
from tests.support.gitrepo import GitRepo

METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/Error"


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """Built once: building it takes seconds, and it depends on the routes alone (test_docs
    reads it from /openapi.json)."""
    app = create_app(
        Settings(database_url="sqlite+aiosqlite://", data_dir=Path("/nonexistent"), secret_key="k")
    )
    return app.openapi()


async def test_every_operation_has_a_human_summary(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        text = operation.get("summary", "")
        words = re.sub(r"`[^`]*`", "", text)
        assert text, (method, path)
        # FastAPI's default is the function's name in Title Case ("List Projects").
        assert "_" not in words, (method, path, text)
        assert len(words.split()) == 1 or words != words.title(), (method, path, text)
        assert len(text) <= 100, (method, path, text)


async def test_routes_served_twice_are_summarised_for_what_each_path_names(
    spec: dict[str, Any],
) -> None:
    def summaries(prefix: str) -> list[str]:
        return [op["summary"] for m, p, op in _operations(spec) if p.startswith(prefix)]

    tasks, schedules = summaries("/api/v1alpha/tasks"), summaries("/api/v1alpha/schedules")
    assert len(tasks) == len(schedules) == 7
    assert all("schedule" not in text for text in tasks), tasks
    assert all("task" not in text for text in schedules), schedules
    for version in ("v1", "v1beta"):
        path = spec["paths"][f"/api/{version}/projects/{{project}}/secrets/{{name}}"]
        assert path["delete"]["summary"] == "Deletes a project secret"
    assert spec["paths"]["/api/v1beta/secrets/{name}"]["delete"]["summary"] == (
        "Deletes a global secret (administrators only)"
    )


async def test_every_summary_override_names_a_documented_operation(
    spec: dict[str, Any],
) -> None:
    documented = {(method, path) for method, path, _ in _operations(spec)}
    assert set(openapi.SUMMARIES) - documented == set()


async def test_no_operation_documents_fastapis_422_that_is_never_sent(
    spec: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in json.dumps(spec)
    for method, path, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                shape = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
                assert "message" in shape["required"], (method, path, status)
    assert spec["components"]["schemas"]["Error"]["required"] == ["message"]


async def test_errors_are_documented_as_each_kind_of_route_sends_them(
    spec: dict[str, Any],
) -> None:
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        if path != "/api/auth/login":  # a wrong password is its 401
            assert ("401" in responses) != is_public(path), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), (method, path)
    project = spec["paths"]["/api/v1alpha/projects/{project}"]
    assert set(project["patch"]["responses"]) == {"200", "400", "401", "403", "404", "409", "413"}
    assert set(spec["paths"]["/api/user/tokens"]["get"]["responses"]) == {"200", "401"}
    login = spec["paths"]["/api/auth/login"]["post"]["responses"]
    assert set(login) == {"204", "400", "401", "413", "429"}


async def test_tags_put_projects_first_and_the_agent_protocol_last(spec: dict[str, Any]) -> None:
    tags = [tag["name"] for tag in spec["tags"]]
    assert tags[:4] == ["projects", "workflows", "pipelines", "jobs"]
    assert tags[-1] == "agent protocol"
    used = {t for _, _, op in _operations(spec) for t in op.get("tags", [])}
    assert set(tags) == used
    first_path = next(iter(spec["paths"].values()))
    assert next(iter(first_path.values()))["tags"] == ["projects"]


async def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    missing = [
        (method, path)
        for method, path, operation in _operations(spec)
        for media in operation.get("requestBody", {}).get("content", {}).values()
        if "example" not in media
    ]
    assert missing == [], "add these to blockpost/api/examples.py"


async def test_swagger_authorize_with_a_bare_token_works(
    spec: dict[str, Any], admin: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    scheme = spec["components"]["securitySchemes"]["api_token"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    token = admin.headers["Authorization"].removeprefix("Token ")
    # An apiKey scheme makes Swagger send the pasted value as the whole header.
    for value in (token, f"Token {token}", f"Bearer {token}"):
        answer = await anon.get("/api/user", headers={"Authorization": value})
        assert answer.status_code == 200, (value, answer.text)
    for value in ("not-a-token", "Bearer", f"Basic {token}", f"{token} {token}"):
        answer = await anon.get("/api/user", headers={"Authorization": value})
        assert answer.status_code == 401, value
        assert set(answer.json()) == {"message"}


# --- every example, sent to the server ----------------------------------------------------

PROMOTING_YAML = pipeline_yaml(block("Build", "compile")) + (
    "promotions:\n  - name: Production\n    pipeline_file: production.yml\n"
)
AGENT_TYPE = "s1-web"
NOTIFICATION = "nightly-failures"
DASHBOARD = "team-overview"


@dataclass
class World:
    """The objects the examples name, created once as a user would create them."""

    app: FastAPI
    admin: httpx.AsyncClient
    ids: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    registration_token: str = ""
    agents: list[ProtocolAgent] = field(default_factory=list)

    def path(self, template: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            # The same parameter name stands for a different kind of object per route.
            if name == "name":
                name = "secret" if "/secrets/" in template else "agent_type"
            elif name == "id_or_name":
                name = "notification" if "/notifications/" in template else "dashboard"
            if name not in self.params:
                return f"<no object for {{{match.group(1)}}}>"
            return self.params[name]

        return re.sub(r"\{(\w+)\}", value, template)

    def body(self, example: Any) -> Any:
        text = json.dumps(example)
        for placeholder, real in self.ids.items():
            text = text.replace(placeholder, real)
        return json.loads(text)

    async def headers(self, path: str) -> dict[str, str]:
        if not is_protocol(path):
            return {}
        if path.endswith("/register"):
            return {"Authorization": f"Token {self.registration_token}"}
        agent = ProtocolAgent(self.app, self.registration_token)
        self.agents.append(agent)
        assert (await agent.register()).status_code == 201
        return agent.auth()


async def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.text}"
    return response.json()


async def make_world(
    app: FastAPI, admin: httpx.AsyncClient, db: Database, engine: Engine, tmp: Path
) -> World:
    repo = GitRepo(tmp / "repo", branch=examples.BRANCH)
    repo.commit(
        {
            examples.PIPELINE_FILE: PROMOTING_YAML,
            ".semaphore/production.yml": pipeline_yaml(block("Deploy", "deploy")),
        }
    )
    world = World(app, admin)
    api = "/api/v1alpha"
    project = await _ok(
        await admin.post(
            f"{api}/projects",
            json={
                "metadata": {"name": examples.PROJECT},
                "spec": {"repository": {"url": repo.url}},
            },
        )
    )
    world.ids[examples.PROJECT_ID] = project["metadata"]["id"]
    run = {"project_id": examples.PROJECT, "reference": f"refs/heads/{examples.BRANCH}"}
    # One pipeline to promote (the examples' pipeline_id), another for the path's {ppl_id}
    # that the PATCH example terminates.
    promoted = await _ok(await admin.post(f"{api}/plumber-workflows", json=run))
    other = await _ok(await admin.post(f"{api}/plumber-workflows", json=run))
    world.ids[examples.PIPELINE_ID] = promoted["pipeline_id"]
    # Promotions are read from the pipeline's YAML, which the engine loads.
    for _ in range(20):
        if not await engine.run_once():
            break
    async with db.session() as session:
        await users.create_user(session, "ada", examples.PASSWORD, actor=None)
        subject = await users.create_user(session, "grace-h", examples.PASSWORD, actor=None)
        await users.create_user(session, examples.MEMBER, examples.PASSWORD, actor=None)
    secret = {"metadata": {"name": examples.SECRET_NAME}, "data": examples.SECRET_DATA}
    await _ok(await admin.post("/api/v1beta/secrets", json=secret))
    await _ok(await admin.post(f"/api/v1beta/projects/{examples.PROJECT}/secrets", json=secret))
    world.registration_token = await create_type(admin, AGENT_TYPE)
    schedule = await _ok(
        await admin.post(f"{api}/schedules", json={"yml_definition": examples.SCHEDULE_YAML})
    )
    target = await _ok(
        await admin.post(
            f"{api}/deployment_targets",
            json={"project_id": project["metadata"]["id"], "name": "staging", "unique_token": "t"},
        )
    )
    for kind, name in (("notifications", NOTIFICATION), ("dashboards", DASHBOARD)):
        body = world.body(examples.REQUEST_EXAMPLES["POST", f"{api}/{kind}"])
        await _ok(await admin.post(f"{api}/{kind}", json={**body, "metadata": {"name": name}}))
    world.params = {
        "project": examples.PROJECT,
        "ppl_id": other["pipeline_id"],
        "wf_id": other["workflow_id"],
        "secret": examples.SECRET_NAME,
        "agent_type": AGENT_TYPE,
        # Upsert answers Semaphore's bare id string.
        "schedule_id": schedule,
        "target_id": target["id"],
        "user": examples.MEMBER,
        "subject_id": subject.uuid,
        "notification": NOTIFICATION,
        "dashboard": DASHBOARD,
    }
    return world


async def test_each_request_body_example_gets_a_2xx(
    spec: dict[str, Any], app: FastAPI, admin: httpx.AsyncClient, db: Database, tmp_path: Path
) -> None:
    """One world for every example, in the document's order: building it per example took
    minutes."""
    engine = Engine(app.state.engine, tick=1.0)
    world = await make_world(app, admin, db, engine, tmp_path)
    failures = []
    try:
        for method, path, operation in _operations(spec):
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            example = content["application/json"].get("example")
            response = await admin.request(
                method,
                world.path(path),
                json=world.body(example),
                headers=await world.headers(path),
            )
            if not response.is_success:
                failures.append(f"{method} {path}: {response.status_code} {response.text}")
    finally:
        for agent in world.agents:
            await agent.close()
        await engine.stop()
    assert failures == [], "\n".join(failures)
