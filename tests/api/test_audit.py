"""The audit log: every change to tokens, users, secrets and targets, by whom, never a value."""

from __future__ import annotations

import base64

import httpx

AUDIT = "/api/v1alpha/audit"
SECRET_VALUE = "s3cr3t-value-never-logged"
TARGET_VALUE = "target-value-never-logged"


async def test_changes_to_tokens_users_secrets_and_targets_are_logged_without_values(
    admin: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    made = await admin.post("/api/users", json={"username": "carol", "password": "pw-carol-123"})
    assert made.status_code == 201, made.text
    token = (await alice.post("/api/user/tokens")).json()["id"]  # the secret itself
    public_ids = {t["id"] for t in (await alice.get("/api/user/tokens")).json()}
    assert (await alice.delete(f"/api/user/tokens/{token}")).status_code == 204
    secret = {
        "metadata": {"name": "keys"},
        "data": {
            "env_vars": [{"name": "API_KEY", "value": SECRET_VALUE}],
            "files": [{"path": "id_key", "content": base64.b64encode(b"material").decode()}],
        },
    }
    assert (await admin.post("/api/v1beta/secrets", json=secret)).status_code == 200
    secret["data"]["env_vars"][0]["value"] = SECRET_VALUE + "-2"
    assert (await admin.put("/api/v1beta/secrets/keys", json=secret)).status_code == 200
    assert (await admin.delete("/api/v1beta/secrets/keys")).status_code == 200
    project = await admin.post(
        "/api/v1alpha/projects",
        json={"metadata": {"name": "web"}, "spec": {"repository": {"url": "https://x/web"}}},
    )
    target = await admin.post(
        "/api/v1alpha/deployment_targets",
        params={"project_id": "web"},
        json={
            "name": "prod",
            "unique_token": "t1",
            "env_vars": [{"name": "TARGET_KEY", "value": TARGET_VALUE}],
        },
    )
    assert target.status_code == 200, target.text
    target_id = target.json()["id"]
    changed = await admin.patch(
        f"/api/v1alpha/deployment_targets/{target_id}",
        json={"unique_token": "t2", "env_vars": [{"name": "TARGET_KEY", "value": "other"}]},
    )
    assert changed.status_code == 200, changed.text
    assert (
        await admin.patch(f"/api/v1alpha/deployment_targets/{target_id}/deactivate")
    ).status_code == 200
    assert (
        await admin.delete(
            f"/api/v1alpha/deployment_targets/{target_id}", params={"unique_token": "t3"}
        )
    ).status_code == 200

    log = await admin.get(AUDIT, params={"page_size": 100})
    assert log.status_code == 200, log.text
    events = log.json()
    # the fixtures made the admin and alice, and their tokens, as the CLI does
    system = [e["action"] for e in events if e["actor"]["name"] == "system"]
    assert sorted(system) == ["token.created"] * 2 + ["user.created"] * 2
    assert [(e["actor"]["name"], e["action"]) for e in reversed(events) if e["actor"]["id"]] == [
        ("admin", "user.created"),
        ("alice", "token.created"),
        ("alice", "token.expired"),
        ("admin", "secret.created"),
        ("admin", "secret.updated"),
        ("admin", "secret.deleted"),
        ("admin", "deployment_target.created"),
        ("admin", "deployment_target.updated"),
        ("admin", "deployment_target.cordoned"),
        ("admin", "deployment_target.deleted"),
    ]
    created_secret = next(e for e in events if e["action"] == "secret.created")
    assert created_secret["resource"]["name"] == "keys"
    assert created_secret["details"] == {"env_vars": ["API_KEY"], "files": ["id_key"]}
    assert created_secret["actor"]["id"] is not None
    updated_target = next(e for e in events if e["action"] == "deployment_target.updated")
    assert updated_target["details"] == {"fields": ["env_vars"]}
    assert updated_target["resource"]["project_id"] == project.json()["metadata"]["id"]
    expired = next(e for e in events if e["action"] == "token.expired")
    assert expired["resource"]["id"] in public_ids
    assert (expired["resource"]["type"], expired["resource"]["name"]) == ("token", "alice")
    for value in (token, SECRET_VALUE, TARGET_VALUE, "bWF0ZXJpYWw=", "other"):
        assert value not in log.text


async def test_the_audit_log_filters_and_pages(admin: httpx.AsyncClient) -> None:
    for n in range(3):
        body = {"metadata": {"name": f"s{n}"}, "data": {"env_vars": [{"name": "A", "value": "b"}]}}
        assert (await admin.post("/api/v1beta/secrets", json=body)).status_code == 200
    first = await admin.get(AUDIT, params={"resource_type": "secret", "page_size": 2})
    assert [e["resource"]["name"] for e in first.json()] == ["s2", "s1"]
    assert 'rel="next"' in first.headers["link"]
    second = await admin.get(AUDIT, params={"resource_type": "secret", "page_size": 2, "page": 2})
    assert [e["resource"]["name"] for e in second.json()] == ["s0"]
    assert 'rel="next"' not in second.headers["link"]
    by_actor = await admin.get(AUDIT, params={"actor": "system"})
    assert {e["action"] for e in by_actor.json()} == {"user.created", "token.created"}


async def test_only_administrators_read_the_audit_log(
    alice: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    refused = await alice.get(AUDIT)
    assert refused.status_code == 403
    assert refused.json() == {"message": "only an administrator may do this"}
    assert (await anon.get(AUDIT)).status_code == 401


async def test_bad_audit_filters_are_400_naming_the_parameter(admin: httpx.AsyncClient) -> None:
    response = await admin.get(AUDIT, params={"resource_type": "project"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("resource_type: Input should be")
