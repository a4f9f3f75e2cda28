"""Projects and members as the `sem` CLI and Semaphore's API send and read them.

Bodies are built as the CLI's `api/models/project_v1_alpha.go` marshals them: empty
strings and zero values where the Go struct has no `omitempty`, read-only fields sent back
from a describe, and fields we do not keep (schedulers, tasks)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import MakeClient

PROJECTS = "/api/v1alpha/projects"


def sem_project(name: str, url: str = "git@github.com:acme/web-app.git") -> dict:
    """`sem create project NAME --url URL` (cmd/create.go): NewProjectV1Alpha, then marshal."""
    return {
        "apiVersion": "v1alpha",
        "kind": "Project",
        "metadata": {"name": name},
        "spec": {
            "repository": {
                "url": url,
                "forked_pull_requests": {},
                "pipeline_file": "",
                "whitelist": {},
                "integration_type": "",
            }
        },
    }


async def test_sem_create_project_gets_semaphores_fields_back(
    alice: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await alice.post(PROJECTS, json=sem_project("web-app"))
    assert created.status_code == 200, created.text
    project = created.json()
    assert project["metadata"]["org_id"] == app.state.settings.organization_id
    repository = project["spec"]["repository"]
    assert (repository["owner"], repository["name"]) == ("acme", "web-app")
    assert repository["pipeline_file"] == ".semaphore/semaphore.yml"


async def test_sem_edit_project_sends_back_read_only_and_unkept_fields(
    alice: httpx.AsyncClient,
) -> None:
    project = (await alice.post(PROJECTS, json=sem_project("web-app"))).json()
    # `sem edit project` opens the describe as YAML and PATCHes it back whole, plus what
    # real Semaphore shows and blockpost does not keep.
    edited = {
        **project,
        "metadata": {**project["metadata"], "description": "the shop", "created_at": "0"},
        "spec": {
            **project["spec"],
            "schedulers": None,
            "tasks": [{"name": "nightly", "scheduled": False, "pipeline_file": ""}],
            "artifact_store_id": "",
        },
    }
    response = await alice.patch(f"{PROJECTS}/{project['metadata']['id']}", json=edited)
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["description"] == "the shop"
    assert response.json()["spec"]["repository"] == project["spec"]["repository"]


async def test_sem_get_projects_walks_every_page_by_x_has_more(alice: httpx.AsyncClient) -> None:
    for n in range(32):
        await alice.post(PROJECTS, json=sem_project(f"p{n:02d}"))
    # api/client/projects_v1_alpha.go: page=N until x-has-more is not "true"
    names, page = [], 1
    while True:
        response = await alice.get(PROJECTS, params={"page": page})
        names += [p["metadata"]["name"] for p in response.json()]
        if response.headers.get("x-has-more") != "true":
            break
        page += 1
    assert names == [f"p{n:02d}" for n in range(32)]


async def test_semaphores_role_routes_add_and_remove_members(
    alice: httpx.AsyncClient, make_client: MakeClient, make_user
) -> None:
    bob = await make_client("bob")
    bob_user = (await bob.get("/api/user")).json()
    await alice.post(PROJECTS, json=sem_project("shared"))
    role = f"{PROJECTS}/shared/members/{bob_user['uuid']}/role"

    assigned = await alice.put(role, json={"role_id": "member"})
    assert (assigned.status_code, assigned.json()) == (200, {"status": "assigned"})
    members = (await bob.get(f"{PROJECTS}/shared/members")).json()
    assert [{k: m[k] for k in ("id", "subject_type", "name", "roles")} for m in members["members"]][
        1
    ] == {
        "id": bob_user["uuid"],
        "subject_type": "user",
        "name": bob_user["name"] or "bob",
        "roles": [{"role_id": "member", "role_name": "Member", "source": "manually"}],
    }
    again = await alice.put(role, json={"role_id": "Member"})
    assert again.status_code == 200

    retracted = await alice.delete(role)
    assert (retracted.status_code, retracted.json()) == (200, True)
    assert (await bob.get(f"{PROJECTS}/shared")).status_code == 404


async def test_role_routes_refuse_what_they_cannot_do(
    alice: httpx.AsyncClient, make_client: MakeClient
) -> None:
    bob = await make_client("bob")
    await alice.post(PROJECTS, json=sem_project("shared"))
    alice_uuid = (await alice.get("/api/user")).json()["uuid"]
    members = f"{PROJECTS}/shared/members"

    owner = await alice.put(f"{members}/bob/role", json={"role_id": "owner"})
    assert (owner.status_code, owner.json()["message"]) == (
        400,
        "role_id: the owner role comes with creating the project",
    )
    unknown = await alice.put(f"{members}/bob/role", json={"role_id": "Admin"})
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith("role_id: no role 'Admin'")
    missing = await alice.put(f"{members}/bob/role", json={})
    assert (missing.status_code, missing.json()["message"]) == (400, "role_id: is required")
    nobody = await alice.put(f"{members}/nobody/role", json={"role_id": "member"})
    assert nobody.status_code == 404
    assert (await alice.delete(f"{members}/{alice_uuid}/role")).status_code == 400
    assert (await bob.put(f"{members}/bob/role", json={"role_id": "member"})).status_code == 404
    assert [m["username"] for m in (await alice.get(members)).json()["members"]] == ["alice"]
