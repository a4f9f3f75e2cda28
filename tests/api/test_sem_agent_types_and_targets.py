"""Agent types and deployment targets as the `sem` CLI creates and edits them (issue 17):
it sends back what it read, read-only fields and md5 fingerprints of secret values included."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx

API = "/api/v1alpha"
TYPES = f"{API}/self_hosted_agent_types"
TARGETS = f"{API}/deployment_targets"
JSON = {"Content-Type": "application/json"}
SECRET = "s3cret-value"
CONFIG = base64.b64encode(b"key = value\n").decode()


def md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


async def send(client: httpx.AsyncClient, method: str, url: str, body: Any) -> httpx.Response:
    """As the CLI's BaseClient: Go's compact json.Marshal, Content-Type application/json."""
    return await client.request(
        method, url, content=json.dumps(body, separators=(",", ":")), headers=JSON
    )


def sem_agent_type(name: str, release_after: int = 0) -> dict[str, Any]:
    """json.Marshal of models.AgentTypeV1Alpha as `sem create -f` builds it: `aws` and
    `status` are structs, so they go out as `{}`; release_after has no omitempty."""
    return {
        "apiVersion": "v1alpha",
        "kind": "SelfHostedAgentType",
        "metadata": {"name": name},
        "spec": {
            "agent_name_settings": {
                "assignment_origin": "assignment_origin_agent",
                "aws": {},
                "release_after": release_after,
            }
        },
        "status": {},
    }


async def test_sem_creates_and_edits_an_agent_type_with_its_read_only_fields(
    admin: httpx.AsyncClient,
) -> None:
    created = await send(admin, "POST", TYPES, sem_agent_type("s1-cli"))
    assert created.status_code == 200, created.text
    assert created.json()["status"]["registration_token"]

    # `sem edit agent_type`: the describe, as its model decoded it, with one change
    edited = sem_agent_type("s1-cli", release_after=60)
    described = (await admin.get(f"{TYPES}/s1-cli")).json()
    edited["metadata"] |= {
        key: described["metadata"][key] for key in ("create_time", "update_time")
    }
    edited["status"] = {"total_agent_count": 3}
    updated = await send(admin, "PATCH", f"{TYPES}/s1-cli", edited)
    assert updated.status_code == 200, updated.text
    assert updated.json()["spec"]["agent_name_settings"]["release_after"] == 60
    assert updated.json()["status"]["total_agent_count"] == 0

    wrong = sem_agent_type("s1-cli", release_after=60)
    wrong["spec"]["agent_name_settings"]["release_after"] = "an hour"
    refused = await send(admin, "PATCH", f"{TYPES}/s1-cli", wrong)
    assert refused.status_code == 400, refused.text
    assert refused.json()["message"].startswith("spec.agent_name_settings.release_after:")


async def project_of(client: httpx.AsyncClient, name: str) -> str:
    created = await client.post(
        f"{API}/projects",
        json={"metadata": {"name": name}, "spec": {"repository": {"url": f"/srv/{name}"}}},
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


def sem_create_target(project_id: str) -> dict[str, Any]:
    """`sem create dt prod -p P -e K=... -f local:/etc/app.conf`: json.Marshal of
    DeploymentTargetCreateRequestV1Alpha, whose embedded structs flatten and whose unset
    strings, nil rule lists and `active` go out as "", null and false."""
    return {
        "id": "",
        "name": "prod",
        "project_id": project_id,
        "organization_id": "",
        "description": "",
        "url": "",
        "state": "",
        "state_message": "",
        "subject_rules": None,
        "object_rules": None,
        "active": False,
        "bookmark_parameter1": "",
        "bookmark_parameter2": "",
        "bookmark_parameter3": "",
        "env_vars": [{"name": "K", "value": SECRET}],
        "files": [{"path": "/etc/app.conf", "content": CONFIG}],
        "unique_token": "5b0c6c3e-8a1f-4f0e-9d51-2f0f3c9b4b11",
    }


def sem_edit_target(described: dict[str, Any], token: str) -> dict[str, Any]:
    """`sem edit dt`: DescribeWithSecrets decoded into DeploymentTargetV1Alpha, through the
    editor's YAML ("<md5> [md5]" read back as "<md5>"), marshalled with a new token."""
    keys = [
        "id",
        "name",
        "project_id",
        "organization_id",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
        "description",
        "url",
        "state",
        "state_message",
        "subject_rules",
        "object_rules",
        "last_deployment",
        "active",
        "bookmark_parameter1",
        "bookmark_parameter2",
        "bookmark_parameter3",
        "env_vars",
        "files",
    ]
    body = {key: described[key] for key in keys if described.get(key) is not None}
    return body | {"unique_token": token}


async def test_sem_creates_a_target_and_an_edit_keeps_the_secrets_it_sends_back_as_md5(
    alice: httpx.AsyncClient,
) -> None:
    project = await project_of(alice, "alices")
    created = await send(alice, "POST", TARGETS, sem_create_target(project))
    assert created.status_code == 200, created.text
    target = created.json()
    assert target["subject_rules"] == [{"type": "ANY", "subject_id": ""}]
    assert target["state"] == "USABLE"

    url = f"{TARGETS}/{target['id']}"
    described = (await alice.get(url, params={"include_secrets": "true"})).json()
    # Semaphore's fingerprints: md5 of the value, and of a file's content in base64
    assert described["env_vars"] == [{"name": "K", "value": md5(SECRET)}]
    assert described["files"] == [{"path": "/etc/app.conf", "content": md5(CONFIG)}]

    edit = sem_edit_target(described, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
    edit["description"] = "production"
    edit["env_vars"] = [*edit["env_vars"], {"name": "NEW", "value": "fresh"}]
    edit["files"][0]["content"] = edit["files"][0]["content"].upper()  # compared ignoring case
    updated = await send(alice, "PATCH", url, edit)
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "production"

    again = (await alice.get(url, params={"include_secrets": "true"})).json()
    assert again["env_vars"] == [
        {"name": "K", "value": md5(SECRET)},  # kept, not replaced by its own md5
        {"name": "NEW", "value": md5("fresh")},
    ]
    assert again["files"] == [{"path": "/etc/app.conf", "content": md5(CONFIG)}]

    # a fingerprint under another name is a value like any other
    renamed = sem_edit_target(again, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
    renamed["env_vars"] = [{"name": "OTHER", "value": md5(SECRET)}]
    assert (await send(alice, "PATCH", url, renamed)).status_code == 200
    last = (await alice.get(url)).json()
    assert last["env_vars"] == [{"name": "OTHER", "value": md5(md5(SECRET))}]


async def test_target_bodies_still_refuse_wrong_types_naming_the_field(
    alice: httpx.AsyncClient,
) -> None:
    project = await project_of(alice, "alices")
    for change, field in [
        ({"name": 5}, "name"),
        ({"subject_rules": {"type": "ANY"}}, "subject_rules"),
        ({"env_vars": [{"name": "K", "value": 1}]}, "env_vars.0.value"),
    ]:
        refused = await send(alice, "POST", TARGETS, sem_create_target(project) | change)
        assert refused.status_code == 400, (change, refused.text)
        assert refused.json()["message"].startswith(f"{field}:"), (change, refused.text)
    assert (await alice.get(TARGETS, params={"project_id": project})).json() == []
