"""Every route in the OpenAPI document refuses missing, malformed, unknown and expired tokens."""

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from blockpost.api.middleware import LOG_PUSH, PUBLIC_PATHS, is_protocol, is_public
from blockpost.db.engine import Database
from blockpost.db.models import ApiToken
from blockpost.dispatch.queue import JobSpec
from blockpost.services import auth
from blockpost.services.principal import Principal
from tests.api.agent_helpers import agent_running, enqueue
from tests.conftest import MakeClient, MakeUser

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


def test_the_public_routes_are_exactly_login_health_metrics_and_docs(app: FastAPI) -> None:
    public = {path for _, path in operations(app) if is_public(path)}
    assert public == {"/api/auth/login", "/healthz", "/readyz", "/metrics"}
    docs = {"/openapi.json", "/swagger"}
    assert public | docs == PUBLIC_PATHS


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
