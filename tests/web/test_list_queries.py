"""The list pages read a page of projects in a fixed number of statements, however many
projects it holds, show each project's latest run on its default branch, and say when a
workflow has more pipelines than its page shows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from blockpost.db.base import new_uuid
from blockpost.db.engine import Database
from blockpost.db.models import Pipeline, Workflow
from blockpost.services import workflow_pages
from blockpost.timefmt import utcnow
from tests.web.conftest import Browser

API = "/api/v1alpha"


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database runs inside the block."""
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)


async def make_project(client: httpx.AsyncClient, name: str) -> str:
    created = await client.post(
        f"{API}/projects",
        json={"metadata": {"name": name}, "spec": {"repository": {"url": "https://e.com/r.git"}}},
    )
    assert created.status_code == 200, created.text
    return str(created.json()["metadata"]["id"])


async def add_run(
    db: Database, project_id: str, number: int, branch: str, result: str, minutes_ago: int
) -> str:
    """A finished workflow on `branch` with its initial pipeline; returns the workflow id."""
    at = utcnow() - timedelta(minutes=minutes_ago)
    workflow_id, pipeline_id = new_uuid(), new_uuid()
    async with db.session() as session:
        session.add(
            Workflow(
                id=workflow_id,
                project_id=project_id,
                number=number,
                requester_id=new_uuid(),
                requester_name="admin",
                branch_id=new_uuid(),
                reference=f"refs/heads/{branch}",
                ref_type="branch",
                ref_name=branch,
                branch_name=branch,
                commit_sha="a" * 40,
                pipeline_file=".semaphore/semaphore.yml",
                initial_ppl_id=pipeline_id,
                created_at=at,
            )
        )
        await session.flush()  # no relationship tells the unit of work the order
        session.add(
            Pipeline(
                id=pipeline_id,
                workflow_id=workflow_id,
                project_id=project_id,
                yaml_file_path=".semaphore/semaphore.yml",
                state="done",
                result=result,
                created_at=at,
            )
        )
    return workflow_id


async def projects_page_statements(db: Database, client: httpx.AsyncClient) -> int:
    with counted(db) as statements:
        assert (await client.get("/ui/projects")).status_code == 200
    return len(statements)


async def test_the_projects_list_shows_the_default_branch_in_statements_that_do_not_grow(
    app: FastAPI, db: Database, browser: Browser, admin: httpx.AsyncClient
) -> None:
    root = await browser("root", admin=True)
    first = await make_project(admin, "alpha")
    newer_main = await add_run(db, first, 1, "main", "failed", minutes_ago=5)
    await add_run(db, first, 2, "feature", "passed", minutes_ago=1)  # newer, not default
    await add_run(db, first, 3, "main", "passed", minutes_ago=10)  # older on main
    second = await make_project(admin, "beta")
    only_topic = await add_run(db, second, 1, "topic", "stopped", minutes_ago=3)
    await make_project(admin, "gamma")  # never ran

    few = await projects_page_statements(db, root)
    page = (await root.get("/ui/projects")).text
    assert f'href="/ui/workflows/{newer_main}">main #1' in page
    assert f'href="/ui/workflows/{only_topic}">topic #1' in page
    assert "never ran" in page

    for index in range(8):
        project_id = await make_project(admin, f"many-{index}")
        await add_run(db, project_id, 1, "master", "passed", minutes_ago=index)
    assert await projects_page_statements(db, root) == few


async def test_the_secrets_and_targets_pages_do_not_query_per_project(
    db: Database, browser: Browser, alice: httpx.AsyncClient
) -> None:
    """Statements for one project of alice's with a secret and a target, then for nine."""
    sam = await browser("sam")

    async def add(name: str) -> None:
        project_id = await make_project(alice, name)
        assert await alice.post(f"{API}/projects/{name}/members", json={"username": "sam"})
        secret = await alice.post(
            f"/api/v1/projects/{name}/secrets",
            json={"metadata": {"name": "db"}, "data": {"env_vars": [{"name": "PW", "value": "x"}]}},
        )
        assert secret.status_code == 200, secret.text
        target = await alice.post(
            f"{API}/deployment_targets",
            params={"project_id": project_id},
            json={"name": "prod", "unique_token": name},
        )
        assert target.status_code == 200, target.text

    async def statements(path: str) -> int:
        with counted(db) as seen:
            assert (await sam.get(path)).status_code == 200
        return len(seen)

    await add("p0")
    one = {path: await statements(path) for path in ("/ui/secrets", "/ui/deployment_targets")}
    for index in range(1, 9):
        await add(f"p{index}")
    for path, count in one.items():
        assert await statements(path) == count, path
    secrets_page = (await sam.get("/ui/secrets")).text
    assert secrets_page.count('<code class="tag">PW</code>') == 9


async def test_a_workflow_page_says_when_it_shows_only_its_first_pipelines(
    db: Database, browser: Browser, admin: httpx.AsyncClient
) -> None:
    root = await browser("root", admin=True)
    project_id = await make_project(admin, "busy")
    workflow_id = await add_run(db, project_id, 1, "main", "passed", minutes_ago=60)
    shown = (await root.get(f"/ui/workflows/{workflow_id}")).text
    assert "more pipelines than these" not in shown
    async with db.session() as session:
        for minute in range(workflow_pages.MOST_PIPELINES):
            session.add(
                Pipeline(
                    workflow_id=workflow_id,
                    project_id=project_id,
                    yaml_file_path=f"rebuild-{minute}.yml",
                    state="done",
                    result="passed",
                    created_at=utcnow() - timedelta(minutes=59 - minute / 10),
                )
            )
    shown = (await root.get(f"/ui/workflows/{workflow_id}")).text
    assert f"more pipelines than these first {workflow_pages.MOST_PIPELINES}" in shown
    assert "rebuild-198.yml" in shown
    assert "rebuild-199.yml" not in shown
