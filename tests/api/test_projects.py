"""Projects: Semaphore's resource shape, JSON and form bodies, pagination, members, visibility."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import MakeClient

PROJECTS = "/api/v1alpha/projects"


def project_body(name: str, url: str = "https://git.example.com/team/app.git", **spec: Any) -> dict:
    return {
        "apiVersion": "v1alpha",
        "kind": "Project",
        "metadata": {"name": name, "description": f"{name} project"},
        "spec": {"repository": {"url": url}, **spec},
    }


async def create(client: httpx.AsyncClient, name: str, **kwargs: Any) -> dict:
    response = await client.post(PROJECTS, json=project_body(name, **kwargs))
    assert response.status_code == 200, response.text
    return response.json()


async def test_created_project_has_semaphores_shape_with_defaults(
    alice: httpx.AsyncClient, app: FastAPI
) -> None:
    me = (await alice.get("/api/user")).json()
    project = await create(alice, "web-app")
    assert project == {
        "apiVersion": "v1alpha",
        "kind": "Project",
        "metadata": {
            "name": "web-app",
            "id": project["metadata"]["id"],
            "description": "web-app project",
            "owner_id": me["uuid"],
            "org_id": app.state.settings.organization_id,
        },
        "spec": {
            "visibility": "private",
            "repository": {
                "url": "https://git.example.com/team/app.git",
                "name": "app",
                "owner": "team",
                "run_on": ["branches", "tags"],
                "forked_pull_requests": {"allowed_secrets": [], "allowed_contributors": []},
                "pipeline_file": ".semaphore/semaphore.yml",
                "status": {
                    "pipeline_files": [{"path": ".semaphore/semaphore.yml", "level": "pipeline"}]
                },
                "whitelist": {"branches": [], "tags": []},
                "integration_type": "git",
            },
            "custom_permissions": False,
            "debug_permissions": [],
            "attach_permissions": [],
        },
    }
    by_id = await alice.get(f"{PROJECTS}/{project['metadata']['id']}")
    by_name = await alice.get(f"{PROJECTS}/web-app")
    assert by_id.json() == by_name.json() == project


async def test_what_the_sem_cli_sends_is_accepted(alice: httpx.AsyncClient) -> None:
    sem_cli_body = {
        "apiVersion": "v1alpha",
        "kind": "Project",
        "metadata": {"name": "from-sem"},
        "spec": {
            "visibility": "",
            "repository": {
                "url": "git@github.com:team/app.git",
                "run_on": ["branches", "pull_requests"],
                "forked_pull_requests": {},
                "pipeline_file": "",
                "whitelist": {},
                "integration_type": "",
            },
        },
    }
    response = await alice.post(PROJECTS, json=sem_cli_body)
    assert response.status_code == 200, response.text
    repo = response.json()["spec"]["repository"]
    assert repo["pipeline_file"] == ".semaphore/semaphore.yml"
    assert repo["integration_type"] == "git"
    assert repo["run_on"] == ["branches", "pull_requests"]


async def test_form_bodies_with_dotted_keys_create_projects(alice: httpx.AsyncClient) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await alice.post(
        PROJECTS,
        content="metadata.name=formed&spec.repository.url=%2Fsrv%2Fgit%2Fformed"
        "&spec.repository.run_on[]=tags",
        headers=form,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["spec"]["repository"]["url"] == "/srv/git/formed"
    assert body["spec"]["repository"]["run_on"] == ["tags"]
    single = await alice.post(
        PROJECTS,
        content="metadata.name=x&spec.repository.url=%2Fr&spec.repository.run_on=tags",
        headers=form,
    )
    assert single.status_code == 400
    assert single.json() == {"message": "spec.repository.run_on: Input should be a valid list"}


async def test_patch_changes_only_given_fields_and_can_rename(alice: httpx.AsyncClient) -> None:
    project = await create(alice, "before")
    patched = await alice.patch(
        f"{PROJECTS}/before",
        json={"metadata": {"name": "after"}, "spec": {"repository": {"pipeline_file": "ci/x.yml"}}},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["metadata"]["name"] == "after"
    assert body["metadata"]["id"] == project["metadata"]["id"]
    assert body["metadata"]["description"] == "before project"
    assert body["spec"]["repository"]["url"] == project["spec"]["repository"]["url"]
    assert body["spec"]["repository"]["pipeline_file"] == "ci/x.yml"
    assert (await alice.get(f"{PROJECTS}/before")).status_code == 404


async def test_a_read_project_can_be_sent_back_unchanged(alice: httpx.AsyncClient) -> None:
    project = await create(alice, "round-trip")
    again = await alice.put(f"{PROJECTS}/round-trip", json=project)
    assert again.status_code == 200, again.text
    assert again.json() == project


async def test_delete_removes_the_project(alice: httpx.AsyncClient) -> None:
    await create(alice, "doomed")
    deleted = await alice.delete(f"{PROJECTS}/doomed")
    assert deleted.status_code == 200
    assert deleted.json() == {}
    assert (await alice.get(f"{PROJECTS}/doomed")).status_code == 404


async def test_duplicate_names_are_refused_with_semaphores_422_and_store_nothing(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    await create(alice, "taken")
    clash = await bob.post(PROJECTS, json=project_body("taken"))
    assert clash.status_code == 422
    assert clash.json() == {"message": "metadata.name: a project named 'taken' already exists"}
    await create(alice, "other")
    rename = await alice.patch(f"{PROJECTS}/other", json={"metadata": {"name": "taken"}})
    assert rename.status_code == 422
    names = [p["metadata"]["name"] for p in (await alice.get(PROJECTS)).json()]
    assert names == ["other", "taken"]
    assert (await bob.get(PROJECTS)).json() == []


async def test_lists_over_a_page_carry_semaphores_paging_headers(
    alice: httpx.AsyncClient,
) -> None:
    for n in range(35):
        await create(alice, f"p{n:02d}")
    first = await alice.get(PROJECTS)
    assert len(first.json()) == 30
    # the sem CLI walks project lists by x-page/x-has-more and stops where they are absent
    paging = {k: first.headers[k] for k in ("x-page", "x-has-more", "total", "per-page")}
    assert paging == {"x-page": "1", "x-has-more": "true", "total": "35", "per-page": "30"}
    assert (first.headers["total-pages"], first.headers["page-number"]) == ("2", "1")
    assert first.headers["link"].endswith('page=2&page_size=30>; rel="last"')
    links = first.headers["link"]
    assert 'rel="first"' in links
    assert 'rel="next"' in links
    assert 'rel="prev"' not in links
    next_url = links.split('rel="first", <')[1].split(">")[0]
    second = await alice.get(next_url)
    assert [p["metadata"]["name"] for p in second.json()] == [f"p{n}" for n in range(30, 35)]
    assert 'rel="prev"' in second.headers["link"]
    assert 'rel="next"' not in second.headers["link"]
    assert (second.headers["x-page"], second.headers["x-has-more"]) == ("2", "false")
    beyond = await alice.get(PROJECTS, params={"page": 9})
    assert (beyond.json(), beyond.headers["total"], beyond.headers["x-has-more"]) == (
        [],
        "35",
        "false",
    )
    small = await alice.get(PROJECTS, params={"page_size": 10, "page": 4})
    assert len(small.json()) == 5


async def test_members_see_the_project_but_only_the_owner_manages_it(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient, make_client: MakeClient
) -> None:
    carol = await make_client("carol")
    await create(alice, "shared")
    added = await alice.post(f"{PROJECTS}/shared/members", json={"username": "bob"})
    assert added.status_code == 201
    assert added.json()["roles"] == [
        {"role_id": "member", "role_name": "Member", "source": "manually"}
    ]
    again = await alice.post(f"{PROJECTS}/shared/members", json={"username": "bob"})
    assert again.status_code == 200
    assert (await bob.get(f"{PROJECTS}/shared")).status_code == 200
    assert [p["metadata"]["name"] for p in (await bob.get(PROJECTS)).json()] == ["shared"]
    members = (await bob.get(f"{PROJECTS}/shared/members")).json()["members"]
    roles = [(m["username"], m["roles"][0]["role_id"]) for m in members]
    assert roles == [("alice", "owner"), ("bob", "member")]

    refused = await bob.patch(f"{PROJECTS}/shared", json={"metadata": {"description": "mine"}})
    assert refused.status_code == 403
    assert (await bob.delete(f"{PROJECTS}/shared")).status_code == 403
    assert (
        await bob.post(f"{PROJECTS}/shared/members", json={"username": "carol"})
    ).status_code == 403
    assert (await carol.get(f"{PROJECTS}/shared")).status_code == 404

    owner_removal = await alice.delete(f"{PROJECTS}/shared/members/alice")
    assert owner_removal.status_code == 400
    assert (await alice.delete(f"{PROJECTS}/shared/members/bob")).status_code == 200
    assert (await bob.get(f"{PROJECTS}/shared")).status_code == 404
    assert (await alice.delete(f"{PROJECTS}/shared/members/bob")).status_code == 404


async def test_admins_see_and_manage_every_project(
    alice: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    await create(alice, "alices")
    assert [p["metadata"]["name"] for p in (await admin.get(PROJECTS)).json()] == ["alices"]
    patched = await admin.patch(f"{PROJECTS}/alices", json={"spec": {"visibility": "public"}})
    assert patched.status_code == 200


async def test_public_projects_are_visible_to_every_user_but_not_editable(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    await create(alice, "open-source", visibility="public")
    assert (await bob.get(f"{PROJECTS}/open-source")).status_code == 200
    assert (await bob.delete(f"{PROJECTS}/open-source")).status_code == 403


BAD_BODIES = [
    ({"metadata": {}, "spec": {"repository": {"url": "/r"}}}, "metadata.name: is required"),
    ({"metadata": {"name": "x"}, "spec": {}}, "spec.repository.url: is required"),
    (
        {"metadata": {"name": "has space"}, "spec": {"repository": {"url": "/r"}}},
        "metadata.name: must be",
    ),
    ({"metadata": {"name": "-x"}, "spec": {"repository": {"url": "/r"}}}, "metadata.name: must be"),
    (
        {
            "metadata": {"name": "6f0e9c52-5c39-4c4c-9c36-1d2b8f6a7e10"},
            "spec": {"repository": {"url": "/r"}},
        },
        "metadata.name: must not look like a UUID",
    ),
    (
        {"metadata": {"name": 5}, "spec": {"repository": {"url": "/r"}}},
        "metadata.name: Input should be a valid string",
    ),
    (
        {"metadata": {"name": "x" * 101}, "spec": {"repository": {"url": "/r"}}},
        "metadata.name: String should have at most 100",
    ),
    (
        {"metadata": {"name": "x"}, "spec": {"repository": {"url": "--upload-pack=evil"}}},
        "spec.repository.url: must not start with '-'",
    ),
    (
        {"metadata": {"name": "x"}, "spec": {"repository": {"url": "relative/path"}}},
        "spec.repository.url: must be a URL",
    ),
    (
        {"metadata": {"name": "x"}, "spec": {"repository": {"url": "/r\nx"}}},
        "spec.repository.url: must not contain control",
    ),
    (
        {"metadata": {"name": "x"}, "spec": {"repository": {"url": "   "}}},
        "spec.repository.url: is required",
    ),
    (
        {"metadata": {"name": "x"}, "spec": {"repository": {"url": "/r", "run_on": ["nightly"]}}},
        "spec.repository.run_on.0: Input should be",
    ),
    (
        {
            "metadata": {"name": "x"},
            "spec": {"repository": {"url": "/r", "pipeline_file": "../etc/passwd"}},
        },
        "spec.repository.pipeline_file: must be a relative path",
    ),
    (
        {"metadata": {"name": "x"}, "spec": {"visibility": "secret", "repository": {"url": "/r"}}},
        "spec.visibility: Input should be",
    ),
    (
        {"metadata": {"name": "x"}, "spec": {"repository": {"url": "/r", "whitelist": []}}},
        "spec.repository.whitelist: Input should be a valid dictionary",
    ),
    (
        {"kind": "Secret", "metadata": {"name": "x"}, "spec": {"repository": {"url": "/r"}}},
        "kind: Input should be 'Project'",
    ),
    ({"metadata": "x"}, "metadata: Input should be a valid dictionary"),
    ([1, 2], "body: Input should be a valid dictionary"),
]


REFUSED_URLS = [
    ("ext::sh -c touch% /tmp/pwned", "must not name a git transport helper"),
    ("ftp://files.example.com/app.git", "scheme ftp:// is not one git fetches here"),
]
LOCAL_URLS = ["/srv/git/app", "file:///srv/git/app", "FILE:///srv/git/app"]


@pytest.mark.parametrize(("url", "message"), REFUSED_URLS)
async def test_repository_urls_that_git_would_run_or_not_fetch_are_refused(
    alice: httpx.AsyncClient, url: str, message: str
) -> None:
    response = await alice.post(PROJECTS, json=project_body("x", url=url))
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"spec.repository.url: {message}")


@pytest.mark.parametrize("url", LOCAL_URLS)
async def test_local_repositories_are_refused_unless_the_server_allows_them(
    app: FastAPI, alice: httpx.AsyncClient, url: str
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"allow_local_repositories": False})
    response = await alice.post(PROJECTS, json=project_body("local", url=url))
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("spec.repository.url: is a path on the server")
    assert "BLOCKPOST_ALLOW_LOCAL_REPOSITORIES=true" in message
    remote = await create(alice, "remote")
    moved = await alice.patch(f"{PROJECTS}/remote", json={"spec": {"repository": {"url": url}}})
    assert moved.status_code == 400
    kept = (await alice.get(f"{PROJECTS}/remote")).json()
    assert kept["spec"]["repository"]["url"] == remote["spec"]["repository"]["url"]
    assert (await alice.get(f"{PROJECTS}/local")).status_code == 404


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
async def test_bad_project_bodies_get_400_naming_the_field_and_store_nothing(
    alice: httpx.AsyncClient, body: Any, message: str
) -> None:
    response = await alice.post(PROJECTS, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(message), response.json()
    assert (await alice.get(PROJECTS)).json() == []


async def test_bad_patch_leaves_the_project_unchanged(alice: httpx.AsyncClient) -> None:
    project = await create(alice, "steady")
    bad = await alice.patch(
        f"{PROJECTS}/steady",
        json={"metadata": {"description": "changed"}, "spec": {"repository": {"url": "-x"}}},
    )
    assert bad.status_code == 400
    assert (await alice.get(f"{PROJECTS}/steady")).json() == project


async def test_member_requests_name_the_bad_field(alice: httpx.AsyncClient) -> None:
    await create(alice, "team")
    unknown = await alice.post(f"{PROJECTS}/team/members", json={"username": "ghost"})
    assert unknown.status_code == 400
    assert unknown.json() == {"message": "username: no user 'ghost'"}
    empty = await alice.post(f"{PROJECTS}/team/members", json={})
    assert empty.json() == {"message": "user_id: give user_id or username"}
    wrong = await alice.post(f"{PROJECTS}/team/members", json={"user_id": "abc"})
    assert wrong.status_code == 400
    assert wrong.json()["message"].startswith("user_id: Input should be a valid integer")
