"""Dashboards API: create, describe, list, change and delete in Semaphore's shape, as
`sem create -f` / `sem apply -f` / `sem edit dashboard` send them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

API = "/api/v1alpha/dashboards"


def dashboard(name: str = "release-health", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1alpha",
        "kind": "Dashboard",
        "metadata": {"name": name},
        "spec": spec or {"widgets": [{"name": "Master", "type": "list_pipelines",
                                      "filters": {"branch": "master"}}]},
    }  # fmt: skip


@pytest.fixture
async def created(alice: httpx.AsyncClient) -> dict[str, Any]:
    response = await alice.post(API, json=dashboard())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_create_answers_semaphores_shape_with_a_title_from_the_name(
    created: dict[str, Any],
) -> None:
    assert created["kind"] == "Dashboard"
    assert created["metadata"]["title"] == "Release Health"
    assert created["metadata"]["update_time"].isdigit()
    assert created["spec"]["widgets"] == [
        {"name": "Master", "type": "list_pipelines", "filters": {"branch": "master"}}
    ]


async def test_every_user_reads_them_by_name_or_id(
    bob: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    assert (await bob.get(f"{API}/release-health")).json() == created
    assert (await bob.get(f"{API}/{created['metadata']['id']}")).json() == created
    listed = await bob.get(API)
    assert listed.json() == {"dashboards": [created], "next_page_token": ""}


async def test_apply_renames_retitles_and_replaces_widgets(
    alice: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    body = dashboard("nightly", widgets=[{"name": "Ratio", "type": "ratio_pipelines"}])
    body["metadata"] = {**created["metadata"], "name": "nightly", "title": "Nightly runs"}
    response = await alice.patch(f"{API}/{created['metadata']['id']}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["title"] == "Nightly runs"
    assert response.json()["spec"]["widgets"] == [
        {"name": "Ratio", "type": "ratio_pipelines", "filters": {}}
    ]
    assert (await alice.get(f"{API}/release-health")).status_code == 404


async def test_only_the_creator_or_an_administrator_changes_or_deletes_it(
    admin: httpx.AsyncClient, bob: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    refused = await bob.put(f"{API}/release-health", json=dashboard())
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "only its creator or an administrator may change a dashboard"
    }
    assert (await bob.delete(f"{API}/release-health")).status_code == 403
    deleted = await admin.delete(f"{API}/release-health")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert (await admin.get(f"{API}/release-health")).status_code == 404


async def test_a_duplicate_name_is_a_conflict(
    alice: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    response = await alice.post(API, json=dashboard())
    assert response.status_code == 409
    assert response.json() == {"message": "a dashboard named 'release-health' already exists"}


async def test_a_widget_names_only_a_project_its_saver_can_see(
    admin: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    project = await admin.post(
        "/api/v1alpha/projects",
        json={"metadata": {"name": "secret-app"}, "spec": {"repository": {"url": "https://git.example.com/a.git"}}},
    )  # fmt: skip
    assert project.status_code == 200, project.text
    project_id = project.json()["metadata"]["id"]
    widget = {"name": "P", "type": "list_workflows", "filters": {"project_id": project_id}}
    refused = await alice.post(API, json=dashboard("mine", widgets=[widget]))
    assert refused.status_code == 400
    assert refused.json() == {
        "message": f"spec.widgets.0.filters.project_id: project '{project_id}' not found"
    }
    accepted = await admin.post(API, json=dashboard("mine", widgets=[widget]))
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (dashboard("Has Caps"), "metadata.name: must be lowercase letters a-z, digits 0-9 and "
         "dashes, no spaces"),
        (dashboard("2b8e1f5c-3c1a-4a7e-9a47-3f2c1d0e9b6a"), "metadata.name: must not be a UUID "
         "(ids are)"),
        (dashboard(widgets=[{"type": "pie_chart"}]), "spec.widgets.0.type: must be one of "
         "list_pipelines, list_workflows, duration_pipelines, ratio_pipelines"),
        (dashboard(widgets=[{"type": "list_workflows", "filters": {"pipeline_file": "x"}}]),
         "spec.widgets.0.filters.pipeline_file: is not a filter of list_workflows; it takes "
         "project_id, branch, github_uid"),
        (dashboard(widgets=[{"type": "list_pipelines", "filters": {"branch": 3}}]),
         "spec.widgets.0.filters.branch: Input should be a valid string"),
        (dashboard(widgets="none"), "spec.widgets: Input should be a valid list"),
    ],
)  # fmt: skip
async def test_bad_values_are_a_400_naming_the_field(
    alice: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await alice.post(API, json=body)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": message}
