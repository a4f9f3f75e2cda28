"""Secrets as the `sem` CLI uses them: each command's requests, shaped byte for byte as the
CLI serializes its Go structs (nil lists as null, read-only fields sent back)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

SECRETS = "/api/v1beta/secrets"
PROJECTS = "/api/v1alpha/projects"
KEY_FILE = base64.b64encode(b"-----BEGIN KEY-----\nmaterial\n").decode()


def go_json(value: Any) -> bytes:
    """json.Marshal's bytes: no spaces, keys in the struct's order (dicts keep it)."""
    return json.dumps(value, separators=(",", ":")).encode()


async def send(client: httpx.AsyncClient, method: str, url: str, body: bytes) -> httpx.Response:
    """As api/client/base_client.go sends a body."""
    return await client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )


def as_cli_sends_back(described: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What `sem edit`/`apply` PATCHes after a describe went through the CLI's struct and YAML:
    fields it does not know dropped (description), empty ones left out (omitempty)."""
    meta = described["metadata"]
    metadata = {k: meta[k] for k in ("name", "id", "create_time", "update_time") if meta.get(k)}
    if meta.get("project_id_or_name"):
        metadata["project_id_or_name"] = meta["project_id_or_name"]
    if meta.get("content_included"):
        metadata["content_included"] = True
    data = described["data"]
    body = {
        "apiVersion": "v1" if "project_id_or_name" in metadata else "v1beta",
        "kind": "ProjectSecret" if "project_id_or_name" in metadata else "Secret",
        "metadata": metadata,
        "data": {
            "env_vars": [
                {"name": e["name"], "value": e.get("value", "")} for e in data["env_vars"]
            ],
            "files": [{"path": f["path"], "content": f.get("content", "")} for f in data["files"]],
        },
    }
    body["data"].update(changes)
    return body


async def create_global(admin: httpx.AsyncClient) -> dict[str, Any]:
    # sem create secret aws -e AWS_KEY=k1 -e AWS_REGION=eu
    body = (
        b'{"apiVersion":"v1beta","kind":"Secret","metadata":{"name":"aws"},"data":{"env_vars":'
        b'[{"name":"AWS_KEY","value":"k1"},{"name":"AWS_REGION","value":"eu"}],"files":null}}'
    )
    created = await send(admin, "POST", SECRETS, body)
    assert created.status_code == 200, created.text
    result: dict[str, Any] = created.json()
    return result


async def test_sem_create_secret_with_env_vars_only_sends_files_null(
    admin: httpx.AsyncClient,
) -> None:
    created = await create_global(admin)
    assert created["kind"] == "Secret"
    assert created["metadata"]["name"] == "aws"
    assert created["metadata"]["content_included"] is True
    assert created["data"] == {
        "env_vars": [{"name": "AWS_KEY", "value": "k1"}, {"name": "AWS_REGION", "value": "eu"}],
        "files": [],
    }
    # sem create secret key -f /home/me/id_rsa:/home/semaphore/.ssh/id_rsa
    files_only = (
        b'{"apiVersion":"v1beta","kind":"Secret","metadata":{"name":"key"},"data":{"env_vars":'
        b'null,"files":[{"path":"/home/semaphore/.ssh/id_rsa","content":"'
        + KEY_FILE.encode()
        + b'"}]}}'
    )
    created = await send(admin, "POST", SECRETS, files_only)
    assert created.status_code == 200, created.text
    assert created.json()["data"]["env_vars"] == []


async def test_sem_get_secrets_lists_names_and_ages_without_values(
    admin: httpx.AsyncClient,
) -> None:
    await create_global(admin)
    listing = await admin.get(SECRETS)
    assert listing.status_code == 200
    (item,) = listing.json()["secrets"]
    assert item["metadata"]["name"] == "aws"
    assert item["metadata"]["update_time"].isdigit()  # the CLI's UpdateTime.Int64() for AGE
    assert item["metadata"]["content_included"] is False
    assert item["data"]["env_vars"] == [{"name": "AWS_KEY"}, {"name": "AWS_REGION"}]
    assert "k1" not in listing.text


async def test_sem_get_secret_describes_it_with_its_values_and_content_included(
    admin: httpx.AsyncClient,
) -> None:
    await create_global(admin)
    described = await admin.get(f"{SECRETS}/aws")
    assert described.status_code == 200
    body = described.json()
    assert (body["apiVersion"], body["kind"]) == ("v1beta", "Secret")
    assert body["metadata"]["content_included"] is True  # sem edit/apply then PATCH it
    assert body["metadata"]["create_time"].isdigit()  # json.Number with ,string: a string
    assert body["data"]["env_vars"][0] == {"name": "AWS_KEY", "value": "k1"}
    assert (await admin.get(f"{SECRETS}/{body['metadata']['id']}")).json() == body


async def test_sem_edit_secret_patches_by_id_and_replaces_the_lists(
    admin: httpx.AsyncClient,
) -> None:
    created = await create_global(admin)
    secret_id = created["metadata"]["id"]
    described = (await admin.get(f"{SECRETS}/aws")).json()
    edited = as_cli_sends_back(
        described,
        env_vars=[{"name": "AWS_KEY", "value": "k2"}, {"name": "NEW", "value": "n"}],
        files=[{"path": "/etc/key", "content": KEY_FILE}],
    )
    edited["metadata"]["name"] = "aws-prod"
    patched = await send(admin, "PATCH", f"{SECRETS}/{secret_id}", go_json(edited))
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["name"] == "aws-prod"
    after = (await admin.get(f"{SECRETS}/aws-prod")).json()
    assert after["metadata"]["id"] == secret_id
    assert after["data"] == {
        "env_vars": [{"name": "AWS_KEY", "value": "k2"}, {"name": "NEW", "value": "n"}],
        "files": [{"path": "/etc/key", "content": KEY_FILE}],
    }
    # every file line deleted in the editor: YAML `files:`, which the CLI sends as null
    emptied = as_cli_sends_back(after, files=None)
    patched = await send(admin, "PATCH", f"{SECRETS}/{secret_id}", go_json(emptied))
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["files"] == []
    assert (await admin.get(f"{SECRETS}/aws")).status_code == 404


async def test_sem_apply_keeps_the_values_a_file_leaves_blank(admin: httpx.AsyncClient) -> None:
    """A file written from a list, or values cut out of it (YAML omits empty ones; JSON then
    sends ""), must not wipe what is stored; a new variable without a value is refused."""
    await create_global(admin)
    described = (await admin.get(f"{SECRETS}/aws")).json()
    applied = as_cli_sends_back(described, env_vars=[{"name": "AWS_KEY", "value": ""}])
    patched = await send(
        admin, "PATCH", f"{SECRETS}/{described['metadata']['id']}", go_json(applied)
    )
    assert patched.status_code == 200, patched.text
    after = (await admin.get(f"{SECRETS}/aws")).json()
    assert after["data"]["env_vars"] == [{"name": "AWS_KEY", "value": "k1"}]  # REGION removed

    new_blank = as_cli_sends_back(after, env_vars=[{"name": "OTHER", "value": ""}])
    refused = await send(admin, "PATCH", f"{SECRETS}/aws", go_json(new_blank))
    assert refused.status_code == 400
    assert refused.json() == {"message": "data.env_vars.0.value: is required"}
    assert (await admin.get(f"{SECRETS}/aws")).json()["data"] == after["data"]

    # curl users may send only what changes; what is not sent stays
    renamed = await admin.patch(f"{SECRETS}/aws", json={"metadata": {"name": "aws2"}})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"] == after["data"]


async def test_sem_delete_secret(admin: httpx.AsyncClient) -> None:
    await create_global(admin)
    deleted = await admin.delete(f"{SECRETS}/aws")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert (await admin.get(f"{SECRETS}/aws")).status_code == 404
    assert (await admin.delete(f"{SECRETS}/aws")).status_code == 404


async def test_secret_bodies_of_the_wrong_type_are_refused_naming_the_field(
    admin: httpx.AsyncClient,
) -> None:
    await create_global(admin)
    cases = [
        (b'{"metadata":{"name":"x"},"data":{"env_vars":[{"name":"A","value":5}]}}', "value"),
        (b'{"metadata":{"name":"x"},"data":{"files":[{"path":"p","content":null}]}}', "content"),
        (b'{"metadata":{"name":"x"},"data":{"files":{"path":"p"}}}', "data.files"),
        (b'{"metadata":{"name":["x"]}}', "metadata.name"),
    ]
    for body, field in cases:
        response = await send(admin, "POST", SECRETS, body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["message"], (body, response.text)
        response = await send(admin, "PATCH", f"{SECRETS}/aws", body)
        assert response.status_code == 400, (body, response.text)
    assert (await admin.get(f"{SECRETS}/aws")).json()["data"]["env_vars"][0]["value"] == "k1"


# Project secrets: `-p NAME` makes the CLI look the project's id up, then use Semaphore's
# /api/v1/projects/{id}/secrets (api/client/project_secrets_v1.go).


async def project_secrets(alice: httpx.AsyncClient) -> tuple[str, str]:
    created = await alice.post(
        PROJECTS,
        json={"metadata": {"name": "web"}, "spec": {"repository": {"url": "https://x/web.git"}}},
    )
    assert created.status_code == 200, created.text
    project_id = (await alice.get(f"{PROJECTS}/web")).json()["metadata"]["id"]
    return project_id, f"/api/v1/projects/{project_id}/secrets"


async def create_project_secret(alice: httpx.AsyncClient) -> tuple[str, str, dict[str, Any]]:
    project_id, url = await project_secrets(alice)
    # sem create secret db -p web -e DB_PASS=p
    body = (
        b'{"apiVersion":"v1","kind":"ProjectSecret","metadata":{"name":"db"},"data":'
        b'{"env_vars":[{"name":"DB_PASS","value":"p"}],"files":null}}'
    )
    created = await send(alice, "POST", url, body)
    assert created.status_code == 200, created.text
    return project_id, url, created.json()


async def test_sem_create_secret_in_a_project(alice: httpx.AsyncClient) -> None:
    project_id, url, created = await create_project_secret(alice)
    assert (created["apiVersion"], created["kind"]) == ("v1", "ProjectSecret")
    assert created["metadata"]["project_id_or_name"] == project_id
    assert created["data"]["env_vars"] == [{"name": "DB_PASS", "value": "p"}]
    # the first path blockpost gave them names the same secrets
    alias = await alice.get("/api/v1beta/projects/web/secrets/db")
    assert alias.json() == (await alice.get(f"{url}/db")).json()
    assert (await alice.get(SECRETS)).json()["secrets"] == []


async def test_sem_get_secrets_of_a_project(alice: httpx.AsyncClient) -> None:
    _, url, _ = await create_project_secret(alice)
    listing = await alice.get(url)
    assert listing.status_code == 200
    (item,) = listing.json()["secrets"]
    assert item["metadata"]["name"] == "db"
    assert item["metadata"]["update_time"].isdigit()
    assert item["metadata"]["content_included"] is False
    assert '"p"' not in listing.text


async def test_sem_get_secret_of_a_project(alice: httpx.AsyncClient) -> None:
    project_id, url, _ = await create_project_secret(alice)
    described = await alice.get(f"{url}/db")
    assert described.status_code == 200
    metadata = described.json()["metadata"]
    assert metadata["project_id_or_name"] == project_id  # where `sem apply` sends it back
    assert metadata["content_included"] is True
    assert described.json()["data"]["env_vars"] == [{"name": "DB_PASS", "value": "p"}]


async def test_sem_edit_secret_of_a_project(alice: httpx.AsyncClient) -> None:
    _, url, created = await create_project_secret(alice)
    described = (await alice.get(f"{url}/db")).json()
    edited = as_cli_sends_back(
        described, env_vars=[{"name": "DB_PASS", "value": "p2"}, {"name": "DB_USER", "value": "u"}]
    )
    patched = await send(alice, "PATCH", f"{url}/{created['metadata']['id']}", go_json(edited))
    assert patched.status_code == 200, patched.text
    after = (await alice.get(f"{url}/db")).json()
    assert after["data"]["env_vars"] == [
        {"name": "DB_PASS", "value": "p2"},
        {"name": "DB_USER", "value": "u"},
    ]


async def test_sem_apply_a_project_secret_goes_to_the_project_it_names(
    alice: httpx.AsyncClient,
) -> None:
    _, url, _ = await create_project_secret(alice)
    described = (await alice.get(f"{url}/db")).json()
    applied = as_cli_sends_back(
        described, env_vars=[{"name": "DB_PASS", "value": ""}, {"name": "NEW", "value": "x"}]
    )
    target = f"/api/v1/projects/{applied['metadata']['project_id_or_name']}/secrets"
    patched = await send(alice, "PATCH", f"{target}/{applied['metadata']['id']}", go_json(applied))
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["env_vars"] == [
        {"name": "DB_PASS", "value": "p"},
        {"name": "NEW", "value": "x"},
    ]
    assert target == url  # the project's id, as -p resolved it at create


async def test_sem_delete_secret_of_a_project(alice: httpx.AsyncClient) -> None:
    _, url, _ = await create_project_secret(alice)
    deleted = await alice.delete(f"{url}/db")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert (await alice.get(url)).json()["secrets"] == []


async def test_a_project_secret_is_hidden_from_those_who_cannot_run_in_the_project(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    _, url, _ = await create_project_secret(alice)
    body = go_json({"metadata": {"name": "db"}, "data": {"env_vars": None, "files": None}})
    for method, path in [("GET", url), ("GET", f"{url}/db"), ("POST", url)]:
        assert (await send(bob, method, path, body)).status_code == 404, (method, path)
    for method in ("PATCH", "DELETE"):
        assert (await send(bob, method, f"{url}/db", body)).status_code == 404, method
    assert (await alice.get(f"{url}/db")).json()["data"]["env_vars"][0]["value"] == "p"
