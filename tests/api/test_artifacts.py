"""Artifacts through the API: the hub as Semaphore's artifact CLI calls it (raw token, JSON
body with no Content-Type), the local store's signed URLs, the people's API with project
visibility, retention policies and the retention pass."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from blockpost.artifacts.retention import Retention
from blockpost.artifacts.store import ArtifactStore
from blockpost.config import Settings
from blockpost.db.models import Job
from blockpost.timefmt import utcnow
from tests.api.engine_rig import API, EngineRig, Taken, block, make_rig, pipeline_yaml
from tests.unit.test_artifact_store import (  # noqa: F401 (fixtures)
    s3_endpoint,
    s3_settings,
    s3_store,
)

HUB = "/api/v1/artifacts"
PUSH, PUSHFORCE, PULL, YANK = 0, 1, 2, 3
# The artifact CLI's parse of a pull's URL into the object's key (pkg/api/signed_url.go).
CUSTOM_DOMAIN = re.compile(r"https://[a-z0-9\-\.]+/[a-z0-9\-]+/[a-z0-9\-]+/([^?]+)\?")


def cli_object(url: str) -> str:
    host = urlsplit(url).netloc
    if host.startswith("127.0.0.1"):
        return urlsplit(url).path[1:]
    match = CUSTOM_DOMAIN.search(url)
    assert match, f"the artifact CLI cannot parse {url}"
    return match.group(1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "make")))
    yield made
    await made.close()


class CliJob:
    """A running job as the artifact CLI sees it: its env and an HTTP client at the
    server's URL (`base`: the host the job reaches the server at)."""

    def __init__(self, app: FastAPI, taken: Taken, workflow_id: str, base: str) -> None:
        env = {e["name"]: base64.b64decode(e["value"]).decode() for e in taken.payload["env_vars"]}
        self.taken = taken
        self.token = env["SEMAPHORE_ARTIFACT_TOKEN"]
        self.project_id = env["SEMAPHORE_PROJECT_ID"]
        self.job_id = env["SEMAPHORE_JOB_ID"]
        self.workflow_id = workflow_id
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)
        self.cli_urls = True  # the artifact CLI can parse the object's key out of them

    async def hub(self, paths: list[str], kind: int = PUSH, token: str = "") -> httpx.Response:
        # exactly as pkg/hub/hub.go sends it: json.Encoder output (omitempty drops a zero
        # type and empty paths), the token raw in `authorization`, no Content-Type
        body: dict[str, Any] = {}
        if paths:
            body["paths"] = paths
        if kind:
            body["type"] = kind
        return await self.http.post(
            HUB,
            content=json.dumps(body) + "\n",
            headers={"authorization": token or self.token},
        )

    async def follow(self, signed: dict[str, str], data: bytes = b"") -> httpx.Response:
        method = signed.get("method") or "DELETE"  # the CLI fills in YANK's method itself
        if not signed["url"].startswith(str(self.http.base_url)):
            async with httpx.AsyncClient() as outside:  # an object store's presigned URL
                return await outside.request(method, signed["url"], content=data or None)
        return await self.http.request(method, signed["url"], content=data or None)

    async def push(self, key: str, data: bytes, force: bool = False) -> None:
        answer = await self.hub([key], PUSHFORCE if force else PUSH)
        assert answer.status_code == 200, answer.text
        urls = answer.json()["urls"]
        if not force:
            head, urls = urls[0], urls[1:]
            assert head["method"] == "HEAD"
            assert (await self.follow(head)).status_code == 404
        assert [u["method"] for u in urls] == ["PUT"]
        assert (await self.follow(urls[0], data)).status_code == 200

    async def pull(self, key: str) -> dict[str, bytes]:
        answer = await self.hub([key], PULL)
        assert answer.status_code == 200, answer.text
        got = {}
        for signed in answer.json()["urls"]:
            response = await self.follow(signed)
            assert response.status_code == 200
            got[cli_object(signed["url"]) if self.cli_urls else signed["url"]] = response.content
        return got

    def key(self, level: str, path: str) -> str:
        owner = {"projects": self.project_id, "workflows": self.workflow_id, "jobs": self.job_id}
        return f"artifacts/{level}/{owner[level]}/{path}"


async def running_job(app: FastAPI, rig: EngineRig, base: str = "http://127.0.0.1:8000") -> CliJob:
    ids = await rig.run()
    await rig.settle()
    return CliJob(app, await rig.take(), ids["workflow_id"], base)


async def test_a_job_pushes_and_pulls_back_a_file_at_each_level(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    for level in ("projects", "workflows", "jobs"):
        key = job.key(level, "app.bin")
        await job.push(key, f"{level} bytes".encode())
        assert await job.pull(key) == {key: f"{level} bytes".encode()}


async def test_a_pull_of_a_directory_gets_every_file_under_it(app: FastAPI, rig: EngineRig) -> None:
    job = await running_job(app, rig, base="https://ci.example.com")
    files = {"dist/a.txt": b"a", "dist/sub/b.txt": b"b", "other.txt": b"o"}
    for path, data in files.items():
        await job.push(job.key("workflows", path), data)
    assert await job.pull(job.key("workflows", "dist")) == {
        job.key("workflows", "dist/a.txt"): b"a",
        job.key("workflows", "dist/sub/b.txt"): b"b",
    }


async def test_a_second_push_finds_the_file_there_unless_forced(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    key = job.key("projects", "release/v1.tgz")
    await job.push(key, b"one")
    head = (await job.hub([key])).json()["urls"][0]
    existing = await job.follow(head)
    assert existing.status_code == 200  # the CLI stops here: "already exists"
    assert existing.headers["content-length"] == "3"
    await job.push(key, b"two!", force=True)
    assert await job.pull(key) == {key: b"two!"}


async def test_a_yank_deletes_a_file_and_a_pull_of_it_then_fails(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    key = job.key("jobs", "log.txt")
    await job.push(key, b"x")
    answer = await job.hub([key], YANK)
    assert answer.status_code == 200
    for signed in answer.json()["urls"]:
        assert (await job.follow({"url": signed["url"]})).status_code == 204
    missing = await job.hub([key], PULL)
    assert missing.status_code == 404
    assert "log.txt" in missing.json()["message"]
    assert (await job.hub([key], YANK)).status_code == 404


async def test_another_projects_workflows_or_jobs_artifacts_are_refused(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    job = await running_job(app, rig)
    other = await admin.post(
        f"{API}/projects",
        json={"metadata": {"name": "other"}, "spec": {"repository": {"url": rig.repo.url}}},
    )
    other_id = other.json()["metadata"]["id"]
    for key in (
        f"artifacts/projects/{other_id}/x",
        "artifacts/workflows/00000000-0000-4000-8000-000000000000/x",
        "artifacts/jobs/00000000-0000-4000-8000-000000000000/x",
    ):
        for kind in (PUSH, PUSHFORCE, PULL, YANK):
            refused = await job.hub([key], kind)
            assert refused.status_code == 403, (key, kind, refused.text)
            assert key in refused.json()["message"]


async def test_a_token_that_is_forged_missing_or_of_a_finished_job_is_refused(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    key = job.key("projects", "a.txt")
    forged = job.token[:-4] + ("0000" if not job.token.endswith("0000") else "1111")
    assert (await job.hub([key], token=forged)).status_code == 401
    assert (await job.http.post(HUB, content=b"{}")).status_code == 401
    assert (await job.hub([key], token="Token " + job.token)).status_code == 401
    await job.taken.report("passed")
    # just after the end the epilogue's last push still gets through ...
    assert (await job.hub([key])).status_code == 200
    async with app.state.db.session() as session:
        row = await session.get(Job, job.job_id)
        assert row is not None
        row.finished_at = utcnow() - timedelta(minutes=5)
    # ... but not for long
    late = await job.hub([key])
    assert late.status_code == 401
    assert "finished" in late.json()["message"]


async def test_bad_hub_requests_are_400s_naming_the_field(app: FastAPI, rig: EngineRig) -> None:
    job = await running_job(app, rig)
    cases = {
        b"not json": "body",
        b'{"paths": "a"}': "paths",
        b'{"paths": ["x/y/z"]}': "paths",
        b'{"paths": ["artifacts/jobs/../x"]}': "paths",
        b'{"paths": ["artifacts/jobs/' + job.job_id.encode() + b'/../x"]}': "paths",
        b'{"paths": ["artifacts/jobs/' + job.job_id.encode() + b'/x"], "type": 7}': "type",
    }
    for body, field in cases.items():
        answer = await job.http.post(HUB, content=body, headers={"authorization": job.token})
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["message"].startswith(field), answer.text
    # no paths at all (the CLI drops an empty list): nothing to sign
    empty = await job.hub([])
    assert empty.json() == {"urls": [], "error": ""}


async def test_signed_urls_refuse_a_forged_or_expired_signature_or_another_method(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    key = job.key("projects", "s.txt")
    await job.push(key, b"signed")
    get_url = (await job.hub([key], PULL)).json()["urls"][0]["url"]
    assert (await job.http.get(get_url)).content == b"signed"
    assert (await job.http.head(get_url)).status_code == 200  # HEAD with a GET URL
    assert (await job.http.put(get_url, content=b"evil")).status_code == 403
    assert (await job.http.delete(get_url)).status_code == 403
    forged = re.sub(r"signature=[0-9a-f]{4}", "signature=0000", get_url)
    assert (await job.http.get(forged)).status_code == 403
    other_key = get_url.replace("s.txt", "t.txt")
    assert (await job.http.get(other_key)).status_code == 403
    expired = re.sub(r"expires=\d+", "expires=1000", get_url)
    answer = await job.http.get(expired)
    assert answer.status_code == 403
    assert answer.json() == {"message": "artifact URL signature is invalid or has expired"}
    # no API token needed, and none helps without a signature
    assert (await job.http.get(get_url.split("?")[0])).status_code == 403


async def test_an_upload_larger_than_the_api_body_limit_streams_through(
    app: FastAPI, rig: EngineRig, settings: Settings
) -> None:
    job = await running_job(app, rig)
    key = job.key("workflows", "big.bin")
    data = bytes(range(256)) * (4 * settings.max_body_bytes // 256)
    await job.push(key, data)
    assert await job.pull(key) == {key: data}


# --- the people's API -------------------------------------------------------------------


async def pushed(app: FastAPI, rig: EngineRig) -> CliJob:
    job = await running_job(app, rig)
    for path, data in {"dist/a.txt": b"a", "dist/sub/b.txt": b"bb", "top.txt": b"t"}.items():
        await job.push(job.key("projects", path), data)
    await job.push(job.key("jobs", "out.log"), b"log")
    return job


async def test_people_list_a_levels_entries_directory_by_directory(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    job = await pushed(app, rig)
    top = await admin.get(f"{API}/artifacts", params={"scope": "project", "id": job.project_id})
    assert top.status_code == 200, top.text
    assert top.json() == {
        "artifacts": [
            {"name": "dist", "path": "dist", "is_directory": True},
            {"name": "top.txt", "path": "top.txt", "is_directory": False, "size": 1},
        ]
    }
    # Semaphore's parameter names work too
    dist = await admin.get(
        f"{API}/artifacts",
        params={"scope": "projects", "scope_id": job.project_id, "path": "dist"},
    )
    assert dist.json()["artifacts"] == [
        {"name": "a.txt", "path": "dist/a.txt", "is_directory": False, "size": 1},
        {"name": "sub", "path": "dist/sub", "is_directory": True},
    ]
    jobs = await admin.get(f"{API}/artifacts", params={"scope": "job", "id": job.job_id})
    assert [a["name"] for a in jobs.json()["artifacts"]] == ["out.log"]
    missing = await admin.get(
        f"{API}/artifacts", params={"scope": "project", "id": job.project_id, "path": "nope"}
    )
    assert missing.status_code == 404


async def test_people_download_through_a_signed_url_and_delete(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    job = await pushed(app, rig)
    query = {"scope": "project", "id": job.project_id, "path": "dist/sub/b.txt"}
    redirect = await admin.get(f"{API}/artifacts/download", params=query)
    assert redirect.status_code == 307
    assert (await anon.get(redirect.headers["location"])).content == b"bb"
    signed = await admin.get(f"{API}/artifacts/signed_url", params=query)
    assert signed.json()["items"][0]["path"] == "dist/sub/b.txt"
    assert (await anon.get(signed.json()["items"][0]["url"])).content == b"bb"
    deleted = await admin.delete(f"{API}/artifacts", params={**query, "path": "dist"})
    assert deleted.status_code == 204
    after = await admin.get(f"{API}/artifacts", params={"scope": "project", "id": job.project_id})
    assert [a["name"] for a in after.json()["artifacts"]] == ["top.txt"]
    assert (await admin.get(f"{API}/artifacts/download", params=query)).status_code == 404


async def test_artifacts_follow_the_projects_visibility(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    job = await pushed(app, rig)
    query = {"scope": "project", "id": job.project_id, "path": "top.txt"}
    for scope, owner in (("project", job.project_id), ("job", job.job_id)):
        hidden = await bob.get(f"{API}/artifacts", params={"scope": scope, "id": owner})
        assert hidden.status_code == 404
    assert (await bob.get(f"{API}/artifacts/download", params=query)).status_code == 404
    assert (await bob.delete(f"{API}/artifacts", params=query)).status_code == 404
    made_public = await admin.patch(
        f"{API}/projects/{job.project_id}", json={"spec": {"visibility": "public"}}
    )
    if made_public.status_code == 405:
        project = (await admin.get(f"{API}/projects/{job.project_id}")).json()
        project["spec"]["visibility"] = "public"
        made_public = await admin.put(f"{API}/projects/{job.project_id}", json=project)
    assert made_public.status_code == 200, made_public.text
    assert (await bob.get(f"{API}/artifacts/download", params=query)).status_code == 307
    # seeing is not deleting
    assert (await bob.delete(f"{API}/artifacts", params=query)).status_code == 403


async def test_bad_people_queries_are_400s_naming_the_field(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    job = await pushed(app, rig)
    cases = [
        ({"scope": "org", "id": job.project_id}, "scope"),
        ({"scope": "project"}, "scope_id"),
        ({"scope": "project", "id": job.project_id, "path": "../etc"}, "path"),
    ]
    for params, field in cases:
        answer = await admin.get(f"{API}/artifacts", params=params)
        assert answer.status_code == 400, answer.text
        assert answer.json()["message"].startswith(field), answer.text


async def test_retention_policy_round_trips_in_semaphores_shape(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    url = f"{API}/artifacts_retention_policies"
    empty = await admin.get(f"{url}/{rig.project_id}")
    assert empty.json() == {
        "project_level_retention_policies": [],
        "workflow_level_retention_policies": [],
        "job_level_retention_policies": [],
    }
    body = {
        "project_id": rig.project_id,
        "project_level_retention_policies": [{"selector": "/release/**", "age": "1 year"}],
        "workflow_level_retention_policies": [{"selector": "/**/*", "age": "7 days"}],
        "job_level_retention_policies": [{"selector": "/**/*", "age": "2 weeks"}],
    }
    saved = await admin.post(url, json=body)
    assert saved.status_code == 200, saved.text
    expected = {
        "project_level_retention_policies": [{"selector": "/release/**", "age": "1 year"}],
        "workflow_level_retention_policies": [{"selector": "/**/*", "age": "1 week"}],
        "job_level_retention_policies": [{"selector": "/**/*", "age": "2 weeks"}],
    }
    assert saved.json() == expected
    assert (await admin.get(f"{url}/{rig.project_id}")).json() == expected
    assert (await bob.get(f"{url}/{rig.project_id}")).status_code == 404
    assert (await bob.post(url, json=body)).status_code == 404
    for bad, field in (
        ({"job_level_retention_policies": [{"selector": "/*", "age": "3 hours"}]}, "job_level"),
        ({"job_level_retention_policies": [{"selector": "", "age": "3 days"}]}, "job_level"),
        ({"job_level_retention_policies": [{"selector": 5, "age": "3 days"}]}, "job_level"),
        ({}, "body"),
    ):
        answer = await admin.post(url, json={"project_id": rig.project_id, **bad})
        assert answer.status_code == 400, answer.text
        assert field in answer.json()["message"], answer.text


async def test_the_retention_pass_removes_what_the_policy_finds_too_old(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    job = await pushed(app, rig)
    await admin.post(
        f"{API}/artifacts_retention_policies",
        json={
            "project_id": job.project_id,
            "project_level_retention_policies": [
                {"selector": "/dist/**/*", "age": "1 week"},
            ],
        },
    )
    retention = Retention(app.state.db, app.state.artifact_store, 3600)
    assert await retention.run_once() == 0
    assert await retention.run_once(now=utcnow() + timedelta(days=8)) == 2
    left = await admin.get(f"{API}/artifacts", params={"scope": "project", "id": job.project_id})
    assert [a["name"] for a in left.json()["artifacts"]] == ["top.txt"]
    # the job's artifacts are ruled by no job-level rule: kept
    kept = await admin.get(f"{API}/artifacts", params={"scope": "job", "id": job.job_id})
    assert [a["name"] for a in kept.json()["artifacts"]] == ["out.log"]


async def test_the_retention_pass_removes_artifacts_of_deleted_projects(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    job = await pushed(app, rig)
    await job.taken.report("passed")
    await rig.settle()
    assert (await admin.delete(f"{API}/projects/{job.project_id}")).status_code == 200
    retention = Retention(app.state.db, app.state.artifact_store, 3600)
    assert await retention.run_once() == 4
    assert await app.state.artifact_store.list("artifacts/projects") == []


async def test_with_an_s3_store_the_hub_signs_urls_of_the_object_store(
    app: FastAPI,
    admin: httpx.AsyncClient,
    tmp_path: Path,
    s3_settings: dict[str, str],  # noqa: F811 (the fixture imported above)
    s3_store: ArtifactStore,  # noqa: F811
) -> None:
    app.state.artifact_store = s3_store
    rig = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "make")))
    try:
        job = await running_job(app, rig)
        job.cli_urls = False  # moto's http://127.0.0.1:port/bucket/... is no URL AWS gives
        key = job.key("workflows", "dist/app.bin")
        await job.push(key, b"to s3")
        pulled = await job.pull(job.key("workflows", "dist"))
        assert list(pulled.values()) == [b"to s3"]
        [url] = pulled
        assert url.startswith(s3_settings["endpoint_url"])
        assert f"/ci/{key}?" in url
        listed = await admin.get(
            f"{API}/artifacts", params={"scope": "workflow", "id": job.workflow_id}
        )
        assert listed.json()["artifacts"] == [
            {"name": "dist", "path": "dist", "is_directory": True}
        ]
        download = await admin.get(
            f"{API}/artifacts/download",
            params={"scope": "workflow", "id": job.workflow_id, "path": "dist/app.bin"},
        )
        assert download.headers["location"].startswith(s3_settings["endpoint_url"])
    finally:
        await rig.close()
