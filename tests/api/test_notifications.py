"""Notifications API: bodies shaped as the sem CLI sends them (create flags, create/apply
-f YAML, edit), administrators only, and a 400 naming the field for every bad value."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

API = "/api/v1alpha/notifications"


def cli_create_body(name: str = "aaa") -> dict[str, Any]:
    """What `sem create notification aaa --projects "cli, test1" --branches master,staging
    --tags v1.0.0,v2.* --pipelines .semaphore/semaphore.yml --slack-channels "#product"
    --slack-endpoint ... --webhook-endpoint ... --webhook-secret ...` posts (Go's json:
    omitempty drops empty strings and lists but never the nested structs)."""
    return {
        "apiVersion": "v1alpha",
        "kind": "Notification",
        "metadata": {"name": name},
        "spec": {
            "rules": [
                {
                    "name": "Send notifications for cli, test1",
                    "filter": {
                        "projects": ["cli", "test1"],
                        "branches": ["master", "staging"],
                        "tags": ["v1.0.0", "v2.*"],
                        "pipelines": [".semaphore/semaphore.yml"],
                    },
                    "notify": {
                        "slack": {
                            "endpoint": "https://hooks.slack.example.com/services/T/B/X",
                            "channels": ["#product"],
                        },
                        "email": {},
                        "webhook": {
                            "endpoint": "https://hooks.example.com/sa",
                            "secret": "aaa-webhook-secret",
                        },
                    },
                }
            ]
        },
        "status": {},
    }


async def make_webhook_secret(admin: httpx.AsyncClient, name: str = "aaa-webhook-secret") -> None:
    response = await admin.post(
        "/api/v1beta/secrets",
        json={
            "metadata": {"name": name},
            "data": {"env_vars": [{"name": "WEBHOOK_SECRET", "value": "s3cret"}]},
        },
    )
    assert response.status_code == 200, response.text


@pytest.fixture
async def created(admin: httpx.AsyncClient) -> dict[str, Any]:
    await make_webhook_secret(admin)
    response = await admin.post(API, json=cli_create_body())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_create_as_the_cli_sends_it_answers_semaphores_shape(
    created: dict[str, Any],
) -> None:
    assert created["apiVersion"] == "v1alpha"
    assert created["kind"] == "Notification"
    assert created["metadata"]["name"] == "aaa"
    assert created["metadata"]["create_time"].isdigit()
    rule = created["spec"]["rules"][0]
    assert rule["filter"]["projects"] == ["cli", "test1"]
    assert rule["filter"]["tags"] == ["v1.0.0", "v2.*"]
    assert rule["filter"]["results"] == []
    assert rule["notify"]["slack"]["channels"] == ["#product"]
    assert rule["notify"]["webhook"]["secret"] == "aaa-webhook-secret"
    assert created["status"] == {"failures": []}


async def test_describe_by_name_or_id_and_list(
    admin: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    by_name = await admin.get(f"{API}/aaa")
    by_id = await admin.get(f"{API}/{created['metadata']['id']}")
    assert by_name.json() == by_id.json() == created
    listed = await admin.get(API, params={"page_size": 1})
    assert listed.json() == {"notifications": [created], "next_page_token": ""}


async def test_list_pages_with_the_token_sem_follows(admin: httpx.AsyncClient) -> None:
    for name in ("one", "two", "three"):
        body = cli_create_body(name)
        body["spec"]["rules"][0]["notify"]["webhook"] = {}
        assert (await admin.post(API, json=body)).status_code == 200
    first = (await admin.get(API, params={"page_size": 2})).json()
    assert [n["metadata"]["name"] for n in first["notifications"]] == ["one", "three"]
    assert first["next_page_token"] == "2"
    second = await admin.get(API, params={"page_size": 2, "page_token": "2"})
    assert [n["metadata"]["name"] for n in second.json()["notifications"]] == ["two"]
    assert second.json()["next_page_token"] == ""


async def test_apply_yaml_patch_renames_and_replaces_the_rules(
    admin: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    # `sem apply -f` / `sem edit`: the described object back, with its read-only fields
    body = {
        "apiVersion": "v1alpha",
        "kind": "Notification",
        "metadata": {**created["metadata"], "name": "renamed"},
        "spec": {
            "rules": [
                {
                    "name": "Rule #1",
                    "filter": {"projects": ["/.*/"], "results": ["Failed"]},
                    "notify": {"slack": {"endpoint": "https://hooks.slack.example.com/x"}},
                }
            ]
        },
        "status": {},
    }
    response = await admin.patch(f"{API}/{created['metadata']['id']}", json=body)
    assert response.status_code == 200, response.text
    rule = response.json()["spec"]["rules"][0]
    assert response.json()["metadata"]["name"] == "renamed"
    assert rule["filter"]["results"] == ["failed"]
    assert rule["notify"]["webhook"]["endpoint"] == ""
    assert (await admin.get(f"{API}/aaa")).status_code == 404


async def test_patch_without_rules_keeps_them(
    admin: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    response = await admin.put(f"{API}/aaa", json={"metadata": {"name": "aaa"}, "spec": {}})
    assert response.status_code == 200, response.text
    assert response.json()["spec"] == created["spec"]


async def test_delete_answers_empty_then_the_notification_is_gone(
    admin: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    response = await admin.delete(f"{API}/aaa")
    assert response.status_code == 200
    assert response.json() == {}
    assert (await admin.get(f"{API}/aaa")).status_code == 404
    assert (await admin.delete(f"{API}/aaa")).json() == {"message": "notification 'aaa' not found"}


async def test_a_duplicate_name_is_a_conflict(
    admin: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    response = await admin.post(API, json=cli_create_body())
    assert response.status_code == 409
    assert response.json() == {"message": "a notification named 'aaa' already exists"}


async def test_only_administrators_manage_or_read_notifications(
    alice: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    for response in (
        await alice.get(API),
        await alice.get(f"{API}/aaa"),
        await alice.post(API, json=cli_create_body("mine")),
        await alice.patch(f"{API}/aaa", json={}),
        await alice.delete(f"{API}/aaa"),
        await alice.get(f"{API}/aaa/deliveries"),
    ):
        assert response.status_code == 403, response.text


def _with(change: dict[str, Any]) -> dict[str, Any]:
    body = cli_create_body()
    rule = body["spec"]["rules"][0]
    for key, value in change.items():
        section, _, field = key.partition(".")
        target = rule["filter"] if section == "filter" else rule["notify"][section]
        if value is None:
            target.pop(field, None)
        else:
            target[field] = value
    return body


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"filter.projects": None},
            "spec.rules.0.filter.projects: name at least one project (or /.*/ for every project)",
        ),
        (
            {"filter.results": ["passed", "broken"]},
            "spec.rules.0.filter.results.1: broken is not a valid result; "
            "valid values are passed, failed, stopped, canceled",
        ),
        (
            {"filter.branches": ["/(unclosed/"]},
            "spec.rules.0.filter.branches.0: /(unclosed/ is not a valid regex "
            "(missing ), unterminated subpattern at position 0)",
        ),
        (
            {"slack.endpoint": None, "webhook.endpoint": None},
            "spec.rules.0.notify: needs a slack or a webhook endpoint (blockpost sends no email)",
        ),
        (
            {"slack.endpoint": "ftp://hooks.example.com/x"},
            "spec.rules.0.notify.slack.endpoint: must be an http:// or https:// URL with a host",
        ),
        (
            {"webhook.endpoint": "http://127.0.0.1:9/hook"},
            "spec.rules.0.notify.webhook.endpoint: is a loopback or private address; the "
            "server sends there only with BLOCKPOST_ALLOW_PRIVATE_NOTIFICATION_ENDPOINTS",
        ),
        (
            {"webhook.endpoint": "http://localhost/hook"},
            "spec.rules.0.notify.webhook.endpoint: is a loopback or private address; the "
            "server sends there only with BLOCKPOST_ALLOW_PRIVATE_NOTIFICATION_ENDPOINTS",
        ),
        (
            {"webhook.secret": "no-such-secret"},
            "spec.rules.0.notify.webhook.secret: no global secret named 'no-such-secret'",
        ),
        ({"webhook.retries": 9}, "spec.rules.0.notify.webhook.retries: must be 0-5"),
        (
            {"webhook.action": "delete"},
            "spec.rules.0.notify.webhook.action: must be one of post, put, patch",
        ),
        (
            {"webhook.timeout": "soon"},
            "spec.rules.0.notify.webhook.timeout: "
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        ({"filter.projects": "cli"}, "spec.rules.0.filter.projects: Input should be a valid list"),
    ],
)
async def test_bad_values_are_a_400_naming_the_field(
    admin: httpx.AsyncClient, change: dict[str, Any], message: str
) -> None:
    await make_webhook_secret(admin)
    response = await admin.post(API, json=_with(change))
    assert response.status_code == 400, response.text
    assert response.json() == {"message": message}


async def test_a_secret_without_webhook_secret_variable_is_refused(
    admin: httpx.AsyncClient,
) -> None:
    await admin.post(
        "/api/v1beta/secrets",
        json={"metadata": {"name": "aaa-webhook-secret"}, "data": {"env_vars": []}},
    )
    response = await admin.post(API, json=cli_create_body())
    assert response.status_code == 400
    assert response.json() == {
        "message": "spec.rules.0.notify.webhook.secret: "
        "secret 'aaa-webhook-secret' has no WEBHOOK_SECRET variable"
    }


async def test_bad_names_and_bodies_are_400s(admin: httpx.AsyncClient) -> None:
    await make_webhook_secret(admin)
    body = cli_create_body("has space")
    response = await admin.post(API, json=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("metadata.name: must be 1-255 letters")
    response = await admin.post(API, json={"metadata": {"name": "x"}})
    assert response.json() == {"message": "spec.rules: name at least one rule"}
    response = await admin.post(API, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
