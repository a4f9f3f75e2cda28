"""Deployment targets between users: idempotency tokens are each caller's own per project,
rights come before tokens, and secret fingerprints only reach those who may change them."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from tests.conftest import MakeClient

API = "/api/v1alpha/deployment_targets"
SECRET = "s3cret-value"


async def project(client: httpx.AsyncClient, name: str, visibility: str = "private") -> str:
    created = await client.post(
        "/api/v1alpha/projects",
        json={
            "metadata": {"name": name},
            "spec": {"visibility": visibility, "repository": {"url": f"/srv/{name}"}},
        },
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


async def create(
    client: httpx.AsyncClient, project_id: str, token: str, name: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        API, params={"project_id": project_id}, json={"name": name, "unique_token": token, **fields}
    )


async def test_a_unique_token_is_the_callers_own_in_one_project(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    alices, bobs = await project(alice, "alices"), await project(bob, "bobs")
    first = await create(alice, alices, "tok", "prod", env_vars=[{"name": "K", "value": SECRET}])
    assert first.status_code == 200, first.text
    theirs = await create(bob, bobs, "tok", "bob-prod")
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert (theirs.json()["name"], theirs.json()["project_id"]) == ("bob-prod", bobs)
    assert SECRET not in theirs.text

    second = await project(alice, "alices-second")
    elsewhere = await create(alice, second, "tok", "prod")
    assert elsewhere.status_code == 200, elsewhere.text
    assert elsewhere.json()["id"] != first.json()["id"]
    retried = await create(alice, alices, "tok", "prod")
    assert retried.json()["id"] == first.json()["id"]

    # bob may not use alice's project, whatever token he sends: hidden first
    hidden = await create(bob, alices, "tok", "prod")
    assert hidden.status_code == 404
    assert hidden.json() == {"message": f"project {alices!r} not found"}


async def test_a_delete_answers_a_retry_by_its_caller_only(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient, make_client: MakeClient
) -> None:
    alices = await project(alice, "alices", "public")
    target = (await create(alice, alices, "tok-create", "prod")).json()["id"]
    url = f"{API}/{target}"
    refused = await bob.delete(url, params={"unique_token": "bobs-token"})
    assert refused.status_code == 403
    assert (await alice.delete(url, params={"unique_token": "del"})).json() == {"target_id": target}
    assert (await alice.delete(url, params={"unique_token": "del"})).json() == {"target_id": target}
    missing = {"message": f"deployment target {target!r} not found"}
    for client in (bob, await make_client("carol")):
        reused = await client.delete(url, params={"unique_token": "del"})
        assert (reused.status_code, reused.json()) == (404, missing)
    another = await alice.delete(url, params={"unique_token": "other"})
    assert (another.status_code, another.json()) == (404, missing)
    recreated = await create(alice, alices, "tok-create", "prod")
    assert recreated.status_code == 404  # the token's target was deleted
    assert "deleted" in recreated.json()["message"]


async def test_only_those_who_may_change_a_target_see_its_secret_fingerprints(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient, make_client: MakeClient
) -> None:
    alices = await project(alice, "alices", "public")
    encoded = base64.b64encode(b"key = value\n")
    created = await create(
        alice,
        alices,
        "tok",
        "prod",
        env_vars=[{"name": "K", "value": SECRET}],
        files=[{"path": "/etc/app.conf", "content": encoded.decode()}],
    )
    url = f"{API}/{created.json()['id']}"
    member = await make_client("dave")
    added = await alice.post(f"/api/v1alpha/projects/{alices}/members", json={"username": "dave"})
    assert added.status_code == 201, added.text
    fingerprints = {
        "env_vars": [{"name": "K", "value": hashlib.md5(SECRET.encode()).hexdigest()}],
        # Semaphore's: the md5 of the content in base64, as it is sent and kept
        "files": [{"path": "/etc/app.conf", "content": hashlib.md5(encoded).hexdigest()}],
    }
    for client in (alice, member):
        described = (await client.get(url)).json()
        assert {key: described[key] for key in fingerprints} == fingerprints
    onlooker = await bob.get(url)
    assert onlooker.status_code == 200
    assert {key: onlooker.json()[key] for key in fingerprints} == {
        "env_vars": [{"name": "K", "value": None}],
        "files": [{"path": "/etc/app.conf", "content": None}],
    }
    assert set(onlooker.json()) == set(described)


async def test_targets_name_the_installations_organization_as_projects_do(
    alice: httpx.AsyncClient,
) -> None:
    project_id = await project(alice, "org")
    project_org = (await alice.get(f"/api/v1alpha/projects/{project_id}")).json()["metadata"]
    created = await create(alice, project_id, "t-1", "prod")
    described = (await alice.get(f"{API}/{created.json()['id']}")).json()
    listed = (await alice.get(API, params={"project_id": project_id})).json()
    assert created.json()["organization_id"] == project_org["org_id"]
    assert described["organization_id"] == listed[0]["organization_id"] == project_org["org_id"]
