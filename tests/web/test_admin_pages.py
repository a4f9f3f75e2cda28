"""The settings pages: API tokens, agents, secrets and deployment targets, with the same
permissions as the API, secrets shown once or never, and forms that need their CSRF token."""

from __future__ import annotations

import base64
import re

import httpx
from fastapi import FastAPI

from blockpost.dispatch.queue import JobSpec
from tests.api.agent_helpers import ProtocolAgent, agent_running
from tests.web.conftest import Browser, submit

API = "/api/v1alpha"
SHOWN_ONCE = re.compile(r'class="secret" readonly value="([^"]+)"')
KNOWN_VALUE = "hunter2-never-on-a-page"
KNOWN_FILE = b"-----BEGIN KEY----- known file body"


def shown_secret(html: str) -> str:
    found = SHOWN_ONCE.search(html)
    assert found, "the page shows no one-time secret"
    return found.group(1)


async def test_an_api_token_is_shown_once_works_and_can_be_expired(
    browser: Browser, app: FastAPI
) -> None:
    client = await browser("tess")
    assert "You have no API tokens yet" in (await client.get("/ui/tokens")).text
    created = await submit(client, "/ui/tokens", "/ui/tokens", {})
    assert created.status_code == 201
    secret = shown_secret(created.text)
    assert f"Authorization: Token {secret}" in created.text
    assert f"sem connect test {secret}" in created.text
    assert created.headers["cache-control"] == "no-store"
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Token {secret}"},
    )
    async with api:
        assert (await api.get(f"{API}/projects")).status_code == 200
        listed = await client.get("/ui/tokens")
        assert secret not in listed.text
        (public_id,) = [t["id"] for t in (await api.get("/api/user/tokens")).json()]
        assert f"{public_id}…" in listed.text
        expired = await submit(client, "/ui/tokens", f"/ui/tokens/{public_id}/expire", {})
        assert expired.status_code == 303
        assert expired.headers["location"] == "/ui/tokens"
        assert (await api.get(f"{API}/projects")).status_code == 401
    after = await client.get("/ui/tokens")
    assert "expired" in after.text
    assert f"/ui/tokens/{public_id}/expire" not in after.text


async def test_forms_without_their_token_change_nothing(browser: Browser, admin) -> None:
    client = await browser("root", admin=True)
    for action, fields in (
        ("/ui/tokens", {}),
        ("/ui/agent_types", {"name": "s1-forged"}),
        ("/ui/secrets/delete", {"name": "x"}),
        ("/ui/tokens/0123456789abcdef/expire", {}),
        ("/ui/agent_types/s1-x/delete", {}),
        ("/ui/deployment_targets/00000000-0000-4000-8000-000000000000/cordon", {}),
    ):
        refused = await client.post(action, data=fields)
        assert refused.status_code == 403, action
        assert "security token" in refused.text
    assert "You have no API tokens yet" in (await client.get("/ui/tokens")).text
    assert (await admin.get(f"{API}/self_hosted_agent_types/s1-forged")).status_code == 404
    # Another user's token cannot expire yours, even with a valid form.
    other = await browser("ursula")
    theirs = shown_secret((await submit(other, "/ui/tokens", "/ui/tokens", {})).text)
    stolen = await submit(client, "/ui/tokens", f"/ui/tokens/{theirs}/expire", {})
    assert stolen.status_code == 404


async def test_an_agent_type_is_created_with_its_registration_token_shown_once(
    browser: Browser, app: FastAPI, admin: httpx.AsyncClient
) -> None:
    client = await browser("root", admin=True)
    page = await client.get("/ui/agents")
    assert page.status_code == 200
    assert "No agent types yet" in page.text
    created = await submit(client, "/ui/agents", "/ui/agent_types", {"name": "s1-ui-made"})
    assert created.status_code == 201
    token = shown_secret(created.text)
    assert "blockpost agent --url http://test --token-file agent.token" in created.text
    agent = ProtocolAgent(app, token)
    try:
        assert (await agent.register()).status_code == 201
        listed = await client.get("/ui/agents")
        assert token not in listed.text
        assert agent.name in listed.text
        assert "v2.2.6 · Ubuntu · x86_64" in listed.text
        assert "waiting for job" in listed.text
        reset = await submit(client, "/ui/agents", "/ui/agent_types/s1-ui-made/reset_token", {})
        assert reset.status_code == 200
        new_token = shown_secret(reset.text)
        assert new_token != token
        assert new_token not in (await client.get("/ui/agents")).text
        # The agent is connected: the type cannot be deleted yet, and says why.
        busy = await submit(client, "/ui/agents", "/ui/agent_types/s1-ui-made/delete", {})
        assert busy.status_code == 409
        assert "connected agent" in busy.text
        disabled = await submit(
            client, "/ui/agents", "/ui/agent_types/s1-ui-made/disable", {"only_idle": "true"}
        )
        assert disabled.status_code == 303
        assert "disabled" in (await client.get("/ui/agents")).text
        described = await admin.get(f"{API}/agents/{agent.name}")
        assert described.json()["metadata"]["disabled_at"] > 0
    finally:
        await agent.close()


async def test_an_agent_running_a_job_links_to_it_for_those_who_see_the_job(
    browser: Browser, app: FastAPI, admin: httpx.AsyncClient
) -> None:
    project_id = await make_project(admin, "hidden")
    member, outsider, root = (
        await browser("sam"),
        await browser("nick"),
        await browser("root", admin=True),
    )
    added = await admin.post(f"{API}/projects/hidden/members", json={"username": "sam"})
    assert added.status_code == 201, added.text
    spec = JobSpec(name="j", agent_type="s1-test", commands=["true"], project_id=project_id)
    agent, job_id = await agent_running(app, admin, spec)
    try:
        for client in (member, root):
            page = await client.get("/ui/agents")
            assert f'href="/ui/jobs/{job_id}"' in page.text
            assert "running job" in page.text
        hidden = (await outsider.get("/ui/agents")).text
        assert "running job" in hidden
        assert job_id not in hidden
        assert job_id[:8] not in hidden
        assert "a job of a project you cannot see" in hidden
        # Not an administrator: no forms to change agent types.
        assert "/ui/agent_types" not in hidden
    finally:
        await agent.close()


async def test_a_standalone_job_on_an_agent_is_shown_to_administrators_only(
    browser: Browser, app: FastAPI, admin: httpx.AsyncClient
) -> None:
    spec = JobSpec(name="j", agent_type="s1-test", commands=["true"])
    agent, job_id = await agent_running(app, admin, spec)
    try:
        root, viewer = await browser("root", admin=True), await browser("viewer")
        assert f'href="/ui/jobs/{job_id}"' in (await root.get("/ui/agents")).text
        assert job_id not in (await viewer.get("/ui/agents")).text
    finally:
        await agent.close()


async def test_only_administrators_change_agent_types(
    browser: Browser, admin: httpx.AsyncClient
) -> None:
    made = await admin.post(f"{API}/self_hosted_agent_types", json={"metadata": {"name": "s1-x"}})
    assert made.status_code == 200
    client = await browser("nora")
    for action in (
        "/ui/agent_types",
        "/ui/agent_types/s1-x/reset_token",
        "/ui/agent_types/s1-x/disable",
        "/ui/agent_types/s1-x/delete",
    ):
        refused = await submit(client, "/ui/agents", action, {"name": "s1-nora"})
        assert refused.status_code == 403, action
        assert refused.headers["content-type"].startswith("text/html")
        assert "only an administrator" in refused.text
    names = [
        t["metadata"]["name"]
        for t in (await admin.get(f"{API}/self_hosted_agent_types")).json()["agent_types"]
    ]
    assert names == ["s1-x"]


async def test_a_bad_agent_type_name_is_explained_and_nothing_is_stored(
    browser: Browser, admin: httpx.AsyncClient
) -> None:
    client = await browser("root", admin=True)
    bad = await submit(client, "/ui/agents", "/ui/agent_types", {"name": "linux large"})
    assert bad.status_code == 400
    assert "metadata.name" in bad.text
    assert 'value="linux large"' in bad.text  # the form keeps what was typed
    assert "s1-" in bad.text
    assert (await admin.get(f"{API}/self_hosted_agent_types")).json()["agent_types"] == []
    assert (
        await submit(client, "/ui/agents", "/ui/agent_types", {"name": "s1-a"})
    ).status_code == 201
    again = await submit(client, "/ui/agents", "/ui/agent_types", {"name": "s1-a"})
    assert again.status_code == 409
    assert "already exists" in again.text
    gone = await submit(client, "/ui/agents", "/ui/agent_types/s1-a/delete", {})
    assert gone.status_code == 303
    assert (await admin.get(f"{API}/self_hosted_agent_types/s1-a")).status_code == 404
    missing = await submit(client, "/ui/agents", "/ui/agent_types/s1-a/delete", {})
    assert missing.status_code == 404


def secret_body(name: str, value: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "description": f"{name} for tests"},
        "data": {
            "env_vars": [{"name": f"{name.upper()}_PASSWORD", "value": value}],
            "files": [
                {
                    "path": f"/home/semaphore/{name}.key",
                    "content": base64.b64encode(KNOWN_FILE).decode(),
                }
            ],
        },
    }


async def make_project(client: httpx.AsyncClient, name: str) -> str:
    created = await client.post(
        f"{API}/projects",
        json={
            "metadata": {"name": name},
            "spec": {"repository": {"url": "https://example.com/r.git"}},
        },
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


async def test_secret_values_are_never_on_a_page(
    browser: Browser, admin: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    assert (
        await admin.post("/api/v1beta/secrets", json=secret_body("org", KNOWN_VALUE))
    ).status_code == 200
    await make_project(alice, "vault")
    project_secret = await alice.post(
        "/api/v1/projects/vault/secrets", json=secret_body("db", KNOWN_VALUE)
    )
    assert project_secret.status_code == 200, project_secret.text
    member = await browser("sam")
    added = await alice.post(f"{API}/projects/vault/members", json={"username": "sam"})
    assert added.status_code == 201, added.text
    outsider = await browser("nick")
    root = await browser("root", admin=True)
    encoded = (KNOWN_VALUE.encode(), KNOWN_FILE, base64.b64encode(KNOWN_FILE))
    for client in (member, outsider, root):
        page = await client.get("/ui/secrets")
        assert page.status_code == 200
        assert not any(value.decode() in page.text for value in encoded)
        assert "ORG_PASSWORD" in page.text
        assert "/home/semaphore/org.key" in page.text
        assert "org for tests" in page.text
    member_page = (await member.get("/ui/secrets")).text
    assert "DB_PASSWORD" in member_page
    assert "/home/semaphore/db.key" in member_page
    assert 'aria-label="Delete secret org"' not in member_page  # organization: admins only
    assert "vault" not in (await outsider.get("/ui/secrets")).text
    assert "DB_PASSWORD" in (await root.get("/ui/secrets")).text

    refused = await submit(
        member, "/ui/secrets", "/ui/secrets/delete", {"project": "", "name": "org"}
    )
    assert refused.status_code == 403
    hidden = await submit(
        outsider, "/ui/secrets", "/ui/secrets/delete", {"project": "vault", "name": "db"}
    )
    assert hidden.status_code == 404
    assert len((await alice.get("/api/v1/projects/vault/secrets")).json()["secrets"]) == 1
    deleted = await submit(
        member, "/ui/secrets", "/ui/secrets/delete", {"project": "vault", "name": "db"}
    )
    assert deleted.status_code == 303
    assert (await alice.get("/api/v1/projects/vault/secrets")).json()["secrets"] == []
    org_gone = await submit(
        root, "/ui/secrets", "/ui/secrets/delete", {"project": "", "name": "org"}
    )
    assert org_gone.status_code == 303
    assert (await admin.get("/api/v1beta/secrets")).json()["secrets"] == []


async def test_deployment_targets_show_rules_and_state_and_runners_cordon_them(
    browser: Browser, alice: httpx.AsyncClient
) -> None:
    project_id = await make_project(alice, "shop")
    target = await alice.post(
        f"{API}/deployment_targets",
        params={"project_id": project_id},
        json={
            "name": "production",
            "unique_token": "t1",
            "description": "the live shop",
            "subject_rules": [{"type": "USER", "subject_id": "alice"}, {"type": "AUTO"}],
            "object_rules": [
                {"type": "BRANCH", "match_mode": "EXACT", "pattern": "main"},
                {"type": "TAG", "match_mode": "REGEX", "pattern": "^v[0-9]+"},
            ],
            "env_vars": [{"name": "SHOP_KEY", "value": KNOWN_VALUE}],
        },
    )
    assert target.status_code == 200, target.text
    target_id = target.json()["id"]
    member = await browser("sam")
    assert (
        await alice.post(f"{API}/projects/shop/members", json={"username": "sam"})
    ).status_code == 201
    outsider = await browser("nick")

    page = await member.get("/ui/deployment_targets")
    assert page.status_code == 200
    text = page.text
    assert "production" in text
    assert "the live shop" in text
    assert "user alice; auto-promotions" in text
    assert "main (exact)" in text
    assert "^v[0-9]+ (regex)" in text
    assert "Pull requests</dt><dd>none" in text
    assert "Nothing deployed through this target yet" in text
    assert KNOWN_VALUE not in text
    assert "production" not in (await outsider.get("/ui/deployment_targets")).text
    hidden = await submit(
        outsider, "/ui/secrets", f"/ui/deployment_targets/{target_id}/cordon", {"cordoned": "true"}
    )
    assert hidden.status_code == 404

    cordoned = await submit(
        member,
        "/ui/deployment_targets",
        f"/ui/deployment_targets/{target_id}/cordon",
        {"cordoned": "true"},
    )
    assert cordoned.status_code == 303
    described = await alice.get(f"{API}/deployment_targets/{target_id}")
    assert described.json()["state"] == "CORDONED"
    assert "cordoned" in (await member.get("/ui/deployment_targets")).text
    activated = await submit(
        member,
        "/ui/deployment_targets",
        f"/ui/deployment_targets/{target_id}/cordon",
        {"cordoned": "false"},
    )
    assert activated.status_code == 303
    assert (await alice.get(f"{API}/deployment_targets/{target_id}")).json()["active"] is True
