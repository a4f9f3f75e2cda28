"""The job cache through the API: the routes the `cache` command calls with the job's
artifact token (its project's keys only), the local store's signed URLs of archives,
least-recently-used eviction past the project's limit, bad input, the cleanup pass, and
the people's list and delete with the project's visibility and rights."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from blockpost.artifacts.store import ArtifactStore
from blockpost.cache.cleanup import CacheCleanup
from blockpost.config import Settings
from blockpost.timefmt import utcnow
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml
from tests.unit.test_artifact_store import (  # noqa: F401 (fixtures)
    s3_endpoint,
    s3_settings,
    s3_store,
)

CACHE = "/api/v1/cache"
LIMIT = 1000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"sync_hold_seconds": 0.0, "cache_project_limit_bytes": LIMIT}
    )


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "make")))
    yield made
    await made.close()


class CacheJob:
    """A running job as the `cache` command sees it: its token and the server's URL."""

    def __init__(self, app: FastAPI, env: dict[str, str]) -> None:
        self.token = env["SEMAPHORE_ARTIFACT_TOKEN"]
        self.project_id = env["SEMAPHORE_PROJECT_ID"]
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1:8000",
            headers={"authorization": self.token},
        )

    async def follow(self, method: str, url: str, data: bytes | None = None) -> httpx.Response:
        if url.startswith(str(self.http.base_url)):
            return await self.http.request(method, url, content=data)
        async with httpx.AsyncClient() as outside:  # an object store's presigned URL
            return await outside.request(method, url, content=data)

    async def store(self, name: str, data: bytes, compression: str = "gzip") -> dict[str, Any]:
        asked = await self.http.post(f"{CACHE}/keys/{name}/upload", json={"size": len(data)})
        assert asked.status_code == 200, asked.text
        assert (await self.follow("PUT", asked.json()["url"], data)).status_code == 200
        recorded = await self.http.post(f"{CACHE}/keys/{name}", json={"compression": compression})
        assert recorded.status_code == 200, recorded.text
        return dict(recorded.json())

    async def restore(self, name: str) -> bytes:
        asked = await self.http.post(f"{CACHE}/keys/{name}/download")
        assert asked.status_code == 200, asked.text
        got = await self.follow("GET", asked.json()["url"])
        assert got.status_code == 200
        return got.content

    async def names(self) -> list[str]:
        listed = await self.http.get(CACHE)
        assert listed.status_code == 200, listed.text
        return [key["name"] for key in listed.json()["keys"]]


async def running_job(app: FastAPI, rig: EngineRig, project_id: str = "") -> CacheJob:
    """A job of the rig's project, or of `project_id`, taken by an agent of its own."""
    started = await rig.api.post(
        f"{API}/plumber-workflows",
        json={"project_id": project_id or rig.project_id, "reference": "refs/heads/master"},
    )
    assert started.status_code == 200, started.text
    await rig.settle()
    taken = await rig.take(await rig.agent())
    env = {e["name"]: base64.b64decode(e["value"]).decode() for e in taken.payload["env_vars"]}
    return CacheJob(app, env)


async def test_a_job_stores_lists_restores_and_deletes_keys_of_its_project(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    assert (await job.http.get(CACHE)).json() == {
        "keys": [],
        "used": 0,
        "free": LIMIT,
        "limit": 1000,
    }
    stored = await job.store("gems-master-abc", b"archive one", compression="zstd")
    assert stored["key"]["name"] == "gems-master-abc"
    assert stored["key"]["size"] == 11
    assert stored["key"]["compression"] == "zstd"
    assert stored["evicted"] == []
    await job.store("node-modules-master", b"archive two")
    # newest stored first, as Semaphore's cache CLI lists and matches them
    assert await job.names() == ["node-modules-master", "gems-master-abc"]
    assert (await job.http.get(CACHE)).json()["used"] == 11 + 11
    assert await job.restore("gems-master-abc") == b"archive one"
    has = await job.http.get(f"{CACHE}/keys/gems-master-abc")
    assert has.status_code == 200
    assert has.json()["compression"] == "zstd"
    assert (await job.http.delete(f"{CACHE}/keys/gems-master-abc")).status_code == 204
    missing = await job.http.get(f"{CACHE}/keys/gems-master-abc")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Key 'gems-master-abc' doesn't exist in the cache store."
    assert (await job.http.delete(f"{CACHE}/keys/gems-master-abc")).status_code == 404
    assert (await job.http.post(f"{CACHE}/keys/gems-master-abc/download")).status_code == 404
    assert (await job.http.delete(f"{CACHE}/keys")).json() == {"deleted": 1}
    assert await job.names() == []


async def test_a_stored_key_is_not_stored_again(app: FastAPI, rig: EngineRig) -> None:
    job = await running_job(app, rig)
    await job.store("deps", b"first")
    again = await job.http.post(f"{CACHE}/keys/deps/upload", json={"size": 6})
    assert again.status_code == 409
    assert again.json()["message"] == "Key 'deps' already exists."
    assert await job.restore("deps") == b"first"


async def test_storing_past_the_limit_evicts_the_least_recently_used_keys(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    for name in ("a", "b", "c"):
        await job.store(name, name.encode() * 300)
    await job.restore("a")  # a use: "b" is now the least recently used
    stored = await job.store("d", b"d" * 300)
    assert stored["evicted"] == ["b"]
    assert sorted(await job.names()) == ["a", "c", "d"]
    assert (await job.http.get(CACHE)).json()["used"] == 900
    stored = await job.store("e", b"e" * 700)
    # least recently used first, only as many as it takes to fit again (700 + 300 = 1000)
    assert stored["evicted"] == ["c", "a"]
    assert await job.names() == ["e", "d"]
    # the evicted archives are gone from the store, not only from the list
    assert [
        item.key.rsplit("/", 1)[1]
        for item in await app.state.artifact_store.list(f"cache/{job.project_id}")
    ] == ["d", "e"]


async def test_an_archive_larger_than_the_limit_is_refused(app: FastAPI, rig: EngineRig) -> None:
    job = await running_job(app, rig)
    asked = await job.http.post(f"{CACHE}/keys/big/upload", json={"size": LIMIT + 1})
    assert asked.status_code == 400
    assert asked.json()["message"] == "size: Archive exceeds allocated 1000.0 for cache."
    # an upload that claimed less than it sent is refused when it is recorded
    url = (await job.http.post(f"{CACHE}/keys/big/upload", json={"size": 1})).json()["url"]
    assert (await job.follow("PUT", url, b"x" * (LIMIT + 1))).status_code == 200
    recorded = await job.http.post(f"{CACHE}/keys/big", json={"compression": "gzip"})
    assert recorded.status_code == 400
    assert await app.state.artifact_store.list(f"cache/{job.project_id}") == []


async def test_bad_requests_are_400s_naming_the_field(app: FastAPI, rig: EngineRig) -> None:
    job = await running_job(app, rig)
    for body, field in (({}, "size"), ({"size": -1}, "size"), ({"size": "many"}, "size")):
        answer = await job.http.post(f"{CACHE}/keys/k/upload", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert field in answer.json()["message"]
    # ('..' itself never reaches a route: clients resolve it out of the URL's path)
    for name, reason in (("a%5Cb", "'/'"), ("a%01b", "control"), ("x" * 256, "255 bytes")):
        answer = await job.http.get(f"{CACHE}/keys/{name}")
        assert answer.status_code == 400, name
        assert answer.json()["message"].startswith("key: ")
        assert reason in answer.json()["message"]
    url = (await job.http.post(f"{CACHE}/keys/k/upload", json={"size": 1})).json()["url"]
    await job.follow("PUT", url, b"k")
    answer = await job.http.post(f"{CACHE}/keys/k", json={"compression": "brotli"})
    assert answer.status_code == 400
    assert answer.json()["message"] == "compression: must be one of zstd, gzip"
    never = await job.http.post(f"{CACHE}/keys/never-uploaded", json={"compression": "gzip"})
    assert never.status_code == 404


async def test_a_token_that_is_forged_or_missing_or_a_users_is_refused(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    job = await running_job(app, rig)
    forged = job.token[:-4] + ("0000" if not job.token.endswith("0000") else "1111")
    assert (await job.http.get(CACHE, headers={"authorization": forged})).status_code == 401
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    async with anonymous:
        assert (await anonymous.get(CACHE)).status_code == 401
    assert (await admin.get(CACHE)).status_code == 401  # a person's API token is no job's


async def test_a_job_reaches_its_own_projects_cache_and_no_other(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    job = await running_job(app, rig)
    await job.store("shared-name", b"mine")
    created = await admin.post(
        f"{API}/projects",
        json={"metadata": {"name": "other"}, "spec": {"repository": {"url": rig.repo.url}}},
    )
    other = await running_job(app, rig, created.json()["metadata"]["id"])
    assert other.project_id != job.project_id
    assert await other.names() == []
    assert (await other.http.post(f"{CACHE}/keys/shared-name/download")).status_code == 404
    await other.store("shared-name", b"theirs")
    assert await job.restore("shared-name") == b"mine"
    assert await other.restore("shared-name") == b"theirs"
    # a signed URL names its project: one made to reach another project's archive fails
    url = (await job.http.post(f"{CACHE}/keys/shared-name/download")).json()["url"]
    forged = url.replace(job.project_id, other.project_id)
    assert (await job.follow("GET", forged)).status_code == 403


async def test_signed_archive_urls_refuse_another_method_or_a_forged_signature(
    app: FastAPI, rig: EngineRig
) -> None:
    job = await running_job(app, rig)
    await job.store("k", b"bytes")
    url = (await job.http.post(f"{CACHE}/keys/k/download")).json()["url"]
    assert url.startswith(f"http://127.0.0.1:8000/cache/{job.project_id}/k?")
    assert (await job.follow("HEAD", url)).headers["content-length"] == "5"
    assert (await job.follow("PUT", url, b"other")).status_code == 403
    assert (await job.follow("GET", url.replace("signature=", "signature=0"))).status_code == 403
    assert await job.restore("k") == b"bytes"


async def test_people_list_and_delete_a_projects_keys_as_the_project_allows(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    job = await running_job(app, rig)
    await job.store("one", b"1")
    await job.store("two", b"22")
    listed = await admin.get(f"{API}/projects/{job.project_id}/cache")
    assert listed.status_code == 200
    body = listed.json()
    assert [key["name"] for key in body["keys"]] == ["two", "one"]
    assert set(body["keys"][0]) == {"name", "size", "compression", "stored_at", "last_used_at"}
    assert body["keys"][0]["stored_at"].endswith("Z")
    assert (body["used"], body["free"], body["limit"]) == (3, LIMIT - 3, LIMIT)
    by_name = await admin.get(f"{API}/projects/rig/cache")
    assert by_name.json()["used"] == 3
    # alice cannot see the project: it does not exist for her
    assert (await alice.get(f"{API}/projects/{job.project_id}/cache")).status_code == 404
    assert (await alice.delete(f"{API}/projects/{job.project_id}/cache/one")).status_code == 404
    assert (await admin.delete(f"{API}/projects/{job.project_id}/cache/one")).status_code == 204
    assert (await admin.delete(f"{API}/projects/{job.project_id}/cache/one")).status_code == 404
    bad = await admin.delete(f"{API}/projects/{job.project_id}/cache/a%5Cb")
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("key: ")
    assert (await admin.delete(f"{API}/projects/{job.project_id}/cache")).status_code == 204
    assert (await admin.get(f"{API}/projects/{job.project_id}/cache")).json()["keys"] == []


async def test_with_an_s3_store_archives_go_to_the_object_store(
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
        for name in ("x", "y", "z", "w"):
            await job.store(name, name.encode() * 300)
        url = (await job.http.post(f"{CACHE}/keys/w/download")).json()["url"]
        assert url.startswith(s3_settings["endpoint_url"])
        assert await job.restore("w") == b"w" * 300
        assert sorted(await job.names()) == ["w", "y", "z"]
        assert (await job.http.delete(f"{CACHE}/keys")).json() == {"deleted": 3}
        assert await app.state.artifact_store.list(f"cache/{job.project_id}") == []
    finally:
        await rig.close()


async def test_the_cleanup_pass_removes_archives_no_entry_records_and_entries_without_archive(
    app: FastAPI, rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    store = app.state.artifact_store
    cleanup = CacheCleanup(app.state.db, store, 3600, upload_seconds=3600)
    job = await running_job(app, rig)
    await job.store("kept", b"k")
    await job.store("lost", b"l")
    await store.delete(f"cache/{job.project_id}/lost")  # gone from the store behind our back
    url = (await job.http.post(f"{CACHE}/keys/abandoned/upload", json={"size": 1})).json()["url"]
    assert (await job.follow("PUT", url, b"a")).status_code == 200  # never recorded
    assert await cleanup.run_once() == 1  # the entry of "lost"; "abandoned" may be uploading
    assert await job.names() == ["kept"]
    later = utcnow() + timedelta(hours=2)
    assert await cleanup.run_once(now=later) == 1  # the abandoned upload, past any URL's life
    assert [item.key for item in await store.list(f"cache/{job.project_id}")] == [
        f"cache/{job.project_id}/kept"
    ]
    # a deleted project's entries go with it; its archives go in the next pass
    assert (await admin.delete(f"{API}/projects/{job.project_id}")).status_code == 200
    assert await cleanup.run_once(now=later) == 1
    assert await store.list("cache") == []
