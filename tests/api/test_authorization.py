"""Every route in the OpenAPI document refuses missing, malformed, unknown and expired tokens."""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import update
from starlette.routing import BaseRoute

from blockpost.api.deps import AdminDep
from blockpost.api.middleware import LOG_PUSH, PUBLIC_PATHS, is_protocol, is_public
from blockpost.db.engine import Database
from blockpost.db.models import ApiToken
from blockpost.dispatch.queue import JobSpec
from blockpost.services import auth
from blockpost.services.principal import Principal
from blockpost.web.paths import is_page
from tests.api.agent_helpers import agent_running, enqueue
from tests.api.engine_rig import API, block, pipeline_yaml
from tests.conftest import MakeClient, MakeUser
from tests.support.gitrepo import GitRepo

PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
METHODS = ("get", "post", "put", "patch", "delete")


def operations(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for path, item in app.openapi()["paths"].items():
        for method in METHODS:
            if method in item:
                found.append((method.upper(), path))
    return found


def concrete(path: str, **values: str) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + PLACEHOLDER + path[end + 1 :]
    return path


async def expired_token(db: Database, make_user: MakeUser) -> str:
    user = await make_user("expired-user")
    async with db.session() as session:
        secret, token = await auth.create_token(session, Principal.of(user), actor=None)
        await session.execute(
            update(ApiToken).where(ApiToken.id == token.id).values(expired_at=datetime.now(UTC))
        )
    return secret


def test_the_public_routes_are_exactly_login_health_metrics_docs_and_webhooks(
    app: FastAPI,
) -> None:
    public = {path for _, path in operations(app) if is_public(path)}
    # A forge cannot log in: a webhook proves itself by its signature (tests/api/test_hooks.py).
    webhooks = {"/hooks/{provider}/{project}"}
    assert public == {"/api/auth/login", "/healthz", "/readyz", "/metrics"} | webhooks
    docs = {"/openapi.json", "/swagger"}
    assert (public - webhooks) | docs == PUBLIC_PATHS


def expected_status(path: str, label: str) -> int:
    """User routes: always 401. Agent protocol: 401 without a usable header; an unknown
    token is 404 on the agent API (as Semaphore's hub answers) and 401 on log push (the
    agent then refreshes its log token)."""
    if not is_protocol(path) or label in {"none", "wrong scheme", "no token", "two words"}:
        return 401
    if label == "forged cookie":
        return 401
    return 401 if path.startswith(LOG_PUSH) else 404


async def test_every_route_refuses_requests_without_valid_credentials(
    app: FastAPI, anon: httpx.AsyncClient, db: Database, make_user: MakeUser
) -> None:
    expired = await expired_token(db, make_user)
    valid_user = await make_user("valid-user")
    async with db.session() as session:
        user_token, _ = await auth.create_token(session, Principal.of(valid_user), actor=None)
    credentials = {
        "none": {},
        "wrong scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "no token": {"Authorization": "Token "},
        "two words": {"Authorization": "Token a b"},
        "unknown": {"Authorization": "Token not-a-real-token"},
        "unknown bearer": {"Authorization": "Bearer not-a-real-token"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "forged cookie": {"Cookie": "blockpost_session=forged"},
    }
    checked = 0
    for method, path in operations(app):
        if is_public(path):
            continue
        cases = dict(credentials)
        if is_protocol(path):
            cases["a user's valid token"] = {"Authorization": f"Token {user_token}"}
        for label, headers in cases.items():
            # A malformed body must not be looked at before the caller is known.
            response = await anon.request(
                method,
                concrete(path),
                headers={**headers, "Content-Type": "application/json"},
                content=b"{not json",
            )
            wanted = expected_status(path, label)
            assert response.status_code == wanted, (method, path, label, response.text)
            assert response.json()["message"], (method, path, label)
            if wanted == 401:
                assert response.headers["www-authenticate"].startswith("Token")
            checked += 1
    assert checked >= 8 * 20


async def test_unknown_paths_also_ask_for_credentials_first(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/api/v1alpha/nothing-here")).status_code == 401


async def test_another_users_project_answers_404_on_every_project_route(
    app: FastAPI, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    created = await alice.post(
        "/api/v1alpha/projects",
        json={"metadata": {"name": "secret-project"}, "spec": {"repository": {"url": "/srv/r"}}},
    )
    assert created.status_code == 200, created.text
    project_id = created.json()["metadata"]["id"]
    routes = [(m, p) for m, p in operations(app) if "{project}" in p]
    assert len(routes) >= 7
    for method, path in routes:
        for ref in (project_id, "secret-project"):
            url = concrete(path, project=ref, user="alice")
            response = await bob.request(method, url, json={})
            assert response.status_code == 404, (method, url, response.text)
            missing = await bob.request(
                method, concrete(path, project="no-such", user="x"), json={}
            )
            assert missing.status_code == 404
            assert response.json()["message"].replace(ref, "no-such") == missing.json()["message"]
    still_there = await alice.get(f"/api/v1alpha/projects/{project_id}")
    assert still_there.status_code == 200


@pytest.mark.parametrize("path", ["/api/users"])
async def test_admin_only_routes_refuse_ordinary_users(path: str, make_client: MakeClient) -> None:
    client = await make_client("plain")
    assert (await client.get(path)).status_code == 403
    refused = await client.post(path, json={"username": "x1", "password": "password-123"})
    assert refused.status_code == 403
    assert refused.json() == {"message": "only an administrator may do this"}


async def test_agent_and_log_tokens_open_nothing_but_their_own_protocol_and_job(
    app: FastAPI, admin: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    spec = JobSpec(name="j", agent_type="s1-test", commands=["true"])
    agent, job_id = await agent_running(app, admin, spec)
    other_job = await enqueue(app, JobSpec(name="other", agent_type="s1-test", commands=["true"]))
    log_token = (await agent.job(job_id)).json()["logger"]["token"]
    for token in (agent.token, agent.registration_token, log_token):
        for method, path in operations(app):
            if is_public(path) or is_protocol(path):
                continue
            response = await anon.request(
                method, concrete(path), headers={"Authorization": f"Token {token}"}
            )
            assert response.status_code == 401, (method, path, response.text)
    pushed = await anon.post(
        f"{LOG_PUSH}{other_job}",
        params={"start_from": 0},
        content='{"event": "cmd_output", "timestamp": 1, "output": "x"}',
        headers={"Authorization": f"Bearer {log_token}"},
    )
    assert pushed.status_code == 401
    assert (await agent.job(other_job)).status_code == 404  # not assigned to this agent
    await agent.close()


ADMIN_ONLY = {
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/v1alpha/audit"),
    ("POST", "/api/v1alpha/self_hosted_agent_types"),
    ("PATCH", "/api/v1alpha/self_hosted_agent_types/{name}"),
    ("DELETE", "/api/v1alpha/self_hosted_agent_types/{name}"),
    ("POST", "/api/v1alpha/self_hosted_agent_types/{name}/disable_all"),
    ("POST", "/api/v1alpha/self_hosted_agent_types/{name}/reset_token"),
    ("POST", "/api/v1beta/secrets"),
    ("GET", "/api/v1beta/secrets/{name}"),
    ("PATCH", "/api/v1beta/secrets/{name}"),
    ("PUT", "/api/v1beta/secrets/{name}"),
    ("DELETE", "/api/v1beta/secrets/{name}"),
    # organisation-wide, and Slack webhook URLs are credentials: reading included
    ("GET", "/api/v1alpha/notifications"),
    ("POST", "/api/v1alpha/notifications"),
    ("GET", "/api/v1alpha/notifications/{id_or_name}"),
    ("PATCH", "/api/v1alpha/notifications/{id_or_name}"),
    ("PUT", "/api/v1alpha/notifications/{id_or_name}"),
    ("DELETE", "/api/v1alpha/notifications/{id_or_name}"),
    ("GET", "/api/v1alpha/notifications/{id_or_name}/deliveries"),
}
# Each key in the wrong type for some route, each route's required fields missing.
GARBAGE = {
    "metadata": 1,
    "spec": [],
    "data": "x",
    "username": [],
    "only_idle": "maybe",
    "terminate_request": {},
    "template_id": [],
    "branch": 5,
    "parameters": 3,
    "user_id": "one",
    "env_vars": 1,
    "unknown_field": True,
}
BAD_QUERY = {"page": "-1", "resource_type": "nonsense", "unique_token": "", "request_token": ""}


def _calls(method: str, url: str) -> list[dict[str, Any]]:
    """The ways a caller without the right tries a route: no body, an empty one, garbage,
    and bad query parameters beside those the URL carries."""
    path, _, query = url.partition("?")
    bad_query = {**BAD_QUERY, **dict(parse_qsl(query))}
    if method == "GET":
        return [{"url": url}, {"url": path, "params": bad_query}]
    return [
        {"url": url},
        {"url": url, "json": {}},
        {"url": url, "json": GARBAGE},
        {"url": path, "json": GARBAGE, "params": bad_query},
    ]


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """The API's routes; the web UI's pages (tests/web) answer with pages, not JSON."""
    for route in routes:
        included = getattr(route, "original_router", None)  # how FastAPI keeps include_router
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute) and not is_page(route.path):
            yield route


def _uses(dependant: Dependant, check: object) -> bool:
    return any(d.call is check or _uses(d, check) for d in dependant.dependencies)


def test_the_admin_only_routes_are_the_ones_that_ask_for_an_administrator(app: FastAPI) -> None:
    admin_check = get_args(AdminDep)[1].dependency
    guarded = {
        (method, route.path)
        for route in api_routes(app.routes)
        if _uses(route.dependant, admin_check)
        for method in route.methods
    }
    assert guarded == ADMIN_ONLY


async def test_admin_only_routes_refuse_other_users_before_reading_the_request(
    app: FastAPI, admin: httpx.AsyncClient, make_client: MakeClient
) -> None:
    assert set(operations(app)) >= ADMIN_ONLY
    await admin.post("/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": "s1-x"}})
    plain = await make_client("plain")
    for method, path in sorted(ADMIN_ONLY):
        for url in {concrete(path), concrete(path, name="s1-x")}:
            for call in _calls(method, url):
                response = await plain.request(method, **call)
                assert response.status_code == 403, (method, url, call, response.text)
                assert response.json() == {"message": "only an administrator may do this"}
    kept = await admin.get("/api/v1alpha/self_hosted_agent_types/s1-x")
    assert kept.status_code == 200


# Routes that need more than seeing the project: running in it (owner, members, admins) or,
# for the project itself and its members, owning it.
PROJECT_RIGHTS = {
    ("PATCH", "/api/v1alpha/projects/{project}"),
    ("PUT", "/api/v1alpha/projects/{project}"),
    ("DELETE", "/api/v1alpha/projects/{project}"),
    ("POST", "/api/v1alpha/projects/{project}/members"),
    ("DELETE", "/api/v1alpha/projects/{project}/members/{user}"),
    ("GET", "/api/v1beta/projects/{project}/secrets"),
    ("POST", "/api/v1beta/projects/{project}/secrets"),
    ("GET", "/api/v1beta/projects/{project}/secrets/{name}"),
    ("PATCH", "/api/v1beta/projects/{project}/secrets/{name}"),
    ("PUT", "/api/v1beta/projects/{project}/secrets/{name}"),
    ("DELETE", "/api/v1beta/projects/{project}/secrets/{name}"),
    ("GET", "/api/v1/projects/{project}/secrets"),
    ("POST", "/api/v1/projects/{project}/secrets"),
    ("GET", "/api/v1/projects/{project}/secrets/{name}"),
    ("PATCH", "/api/v1/projects/{project}/secrets/{name}"),
    ("DELETE", "/api/v1/projects/{project}/secrets/{name}"),
    ("POST", "/api/project/{project}/tasks"),
    ("PATCH", "/api/v1alpha/pipelines/{ppl_id}"),
    ("POST", "/api/v1alpha/plumber-workflows/{wf_id}/reschedule"),
    ("POST", "/api/v1alpha/plumber-workflows/{wf_id}/terminate"),
    ("POST", "/api/v1alpha/jobs/{job_id}/stop"),
    ("POST", "/api/v1alpha/deployment_targets?project_id={project}"),
    ("PATCH", "/api/v1alpha/deployment_targets/{target_id}"),
    ("DELETE", "/api/v1alpha/deployment_targets/{target_id}"),
    ("PATCH", "/api/v1alpha/deployment_targets/{target_id}/deactivate"),
    ("PATCH", "/api/v1alpha/deployment_targets/{target_id}/activate"),
    ("POST", "/api/v1alpha/schedules?periodic_id={schedule_id}"),
    ("DELETE", "/api/v1alpha/schedules/{schedule_id}"),
    ("POST", "/api/v1alpha/schedules/{schedule_id}/run_now"),
    ("POST", "/api/v1alpha/schedules/{schedule_id}/pause"),
    ("POST", "/api/v1alpha/schedules/{schedule_id}/unpause"),
    ("POST", "/api/v1alpha/tasks?periodic_id={schedule_id}"),
    ("DELETE", "/api/v1alpha/tasks/{schedule_id}"),
    ("POST", "/api/v1alpha/tasks/{schedule_id}/run_now"),
}
# Semaphore answers 400 for a schedule (task) it cannot find, a hidden one included
NOT_FOUND_IS_400 = ("/api/v1alpha/schedules", "/api/v1alpha/tasks")


async def alices_project(
    alice: httpx.AsyncClient, tmp_path: Path, visibility: str
) -> dict[str, str]:
    """A project of alice's with one of everything: a workflow and its pipeline, a job, a
    deployment target, a schedule. Returns the ids by their path parameter names."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit({".semaphore/semaphore.yml": pipeline_yaml(block("Build", "compile"))})
    created = await alice.post(
        f"{API}/projects",
        json={
            "metadata": {"name": "alices"},
            "spec": {"visibility": visibility, "repository": {"url": repo.url}},
        },
    )
    assert created.status_code == 200, created.text
    project = created.json()["metadata"]["id"]
    run = await alice.post(
        f"{API}/plumber-workflows", json={"project_id": project, "reference": "refs/heads/master"}
    )
    assert run.status_code == 200, run.text
    job = await alice.post(
        f"{API}/jobs",
        json={
            "metadata": {"name": "standalone"},
            "spec": {
                "project_id": project,
                "agent": {"machine": {"type": "s1-alices"}},
                "commands": ["sleep 600"],
            },
        },
    )
    assert job.status_code == 200, job.text
    target = await alice.post(
        f"{API}/deployment_targets",
        params={"project_id": project},
        json={"name": "prod", "unique_token": "alice-1"},
    )
    assert target.status_code == 200, target.text
    schedule = await alice.post(
        f"{API}/schedules",
        json={
            "yml_definition": "apiVersion: v1.0\nkind: Schedule\nmetadata:\n  name: nightly\n"
            "spec:\n  project: alices\n  branch: master\n  at: '0 3 * * *'\n"
        },
    )
    assert schedule.status_code == 200, schedule.text
    return {
        "project": project,
        "user": "alice",
        "name": "any-secret",
        "wf_id": run.json()["workflow_id"],
        "ppl_id": run.json()["pipeline_id"],
        "job_id": job.json()["metadata"]["id"],
        "target_id": target.json()["id"],
        "schedule_id": schedule.json(),
    }


@pytest.mark.parametrize(("visibility", "status"), [("public", 403), ("private", 404)])
async def test_project_routes_that_need_a_right_refuse_before_reading_the_request(
    app: FastAPI,
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
    tmp_path: Path,
    visibility: str,
    status: int,
) -> None:
    """bob sees a public project but may not act in it: 403; a private one is hidden: 404."""
    ids = await alices_project(alice, tmp_path, visibility)
    routes = set(operations(app))
    for method, path in sorted(PROJECT_RIGHTS):
        assert (method, path.partition("?")[0]) in routes, (method, path)
        url = path.format(**ids)
        hidden_is_400 = status == 404 and path.startswith(NOT_FOUND_IS_400)
        for call in _calls(method, url):
            response = await bob.request(method, **call)
            expected = 400 if hidden_is_400 else status
            assert response.status_code == expected, (method, url, call, response.text)
            assert response.json()["message"]
    promoted = await bob.post(
        f"{API}/promotions", json={"pipeline_id": ids["ppl_id"], "name": 5, "override": []}
    )
    assert promoted.status_code == status, promoted.text
    job = await alice.get(f"{API}/jobs/{ids['job_id']}")
    assert job.json()["status"]["result"] == "NONE"  # not stopped
    target = await alice.get(f"{API}/deployment_targets/{ids['target_id']}")
    assert target.json()["active"] is True


async def test_stopping_a_job_takes_the_right_to_terminate_its_pipeline(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient, make_client: MakeClient, tmp_path: Path
) -> None:
    ids = await alices_project(alice, tmp_path, "public")
    stop = f"{API}/jobs/{ids['job_id']}/stop"
    refused = await bob.post(stop)
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "only the project's owner, members or an administrator may run jobs"
    }
    terminate = await bob.patch(
        f"{API}/pipelines/{ids['ppl_id']}", json={"terminate_request": True}
    )
    assert (terminate.status_code, terminate.json()) == (403, refused.json())
    assert (await alice.get(f"{API}/jobs/{ids['job_id']}")).json()["status"]["result"] == "NONE"

    carol = await make_client("carol")
    added = await alice.post(f"{API}/projects/{ids['project']}/members", json={"username": "carol"})
    assert added.status_code == 201, added.text
    assert (await carol.post(stop)).status_code == 200
    stopped = (await alice.get(f"{API}/jobs/{ids['job_id']}")).json()["status"]
    assert (stopped["state"], stopped["result"]) == ("FINISHED", "STOPPED")
