"""The job cache: the routes blockpost's `cache` command calls with the job's artifact token,
the local store's signed URLs of archives, and the people's list and delete of a project's
keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.artifacts import _File
from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.api.middleware import CACHE_API
from blockpost.api.request_model import RequestModel
from blockpost.artifacts import access, tokens
from blockpost.artifacts.access import JobGrant
from blockpost.artifacts.paths import is_owner
from blockpost.artifacts.store import DOMAIN_PREFIX, LOOPBACK_PREFIX, ArtifactStore, LocalStore
from blockpost.cache import entries
from blockpost.cache.names import ROOT, check_compression, check_name, object_key
from blockpost.db.models import CacheEntry
from blockpost.errors import NotAuthenticated, NotFound, PermissionDenied
from blockpost.services import projects
from blockpost.timefmt import iso_seconds

router = APIRouter(tags=["cache"])


def _store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifact_store
    return store


def _entry(entry: CacheEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "size": entry.size,
        "compression": entry.compression,
        "stored_at": iso_seconds(entry.stored_at),
        "last_used_at": iso_seconds(entry.used_at),
    }


async def _listing(session: AsyncSession, project_id: str, limit: int) -> dict[str, Any]:
    usage = await entries.usage(session, project_id, limit)
    return {
        "keys": [_entry(entry) for entry in await entries.listed(session, project_id)],
        "used": usage.used,
        "free": usage.free,
        "limit": usage.limit,
    }


async def _grant(request: Request, session: SessionDep, settings: SettingsDep) -> JobGrant:
    """The job whose SEMAPHORE_ARTIFACT_TOKEN is in `authorization` (raw, as the artifact
    hub takes it): its project's cache is the one it reaches."""
    job_id = tokens.job_of(settings.secret_key, request.headers.get("authorization", ""))
    if job_id is None:
        raise NotAuthenticated("authorization must be the job's SEMAPHORE_ARTIFACT_TOKEN")
    return await access.grant_for_job(session, job_id)


GrantDep = Annotated[JobGrant, Depends(_grant)]


class UploadIn(RequestModel):
    size: int = Field(ge=0, description="The archive's size in bytes.")


class RecordIn(RequestModel):
    compression: str = Field(description="zstd or gzip")


@router.get(CACHE_API, include_in_schema=False)
async def job_list(grant: GrantDep, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """`cache list` and `cache usage`: the keys, newest stored first, and the space."""
    return await _listing(session, grant.project_id, settings.cache_project_limit_bytes)


@router.get(CACHE_API + "/keys/{name}", include_in_schema=False)
async def job_has_key(name: str, grant: GrantDep, session: SessionDep) -> dict[str, Any]:
    entry = await entries.find(session, grant.project_id, check_name(name))
    if entry is None:
        raise NotFound(entries.missing_message(name))
    return _entry(entry)


@router.post(CACHE_API + "/keys/{name}/upload", include_in_schema=False)
async def job_upload_url(
    name: str,
    body: UploadIn,
    request: Request,
    grant: GrantDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """A URL to PUT a new key's archive to; 409 when the key is stored already."""
    url = await entries.upload_url(
        session,
        _store(request),
        grant.project_id,
        check_name(name),
        body.size,
        settings.cache_project_limit_bytes,
        str(request.base_url),
    )
    return {"url": url}


@router.post(CACHE_API + "/keys/{name}", include_in_schema=False)
async def job_record(
    name: str,
    body: RecordIn,
    request: Request,
    grant: GrantDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Records the uploaded archive as the key; the keys evicted to make room."""
    entry, evicted = await entries.record(
        session,
        _store(request),
        grant.project_id,
        check_name(name),
        check_compression(body.compression),
        settings.cache_project_limit_bytes,
    )
    return {"key": _entry(entry), "evicted": evicted}


@router.post(CACHE_API + "/keys/{name}/download", include_in_schema=False)
async def job_download_url(
    name: str, request: Request, grant: GrantDep, session: SessionDep
) -> dict[str, Any]:
    entry, url = await entries.download_url(
        session, _store(request), grant.project_id, check_name(name), str(request.base_url)
    )
    return {"key": _entry(entry), "url": url}


@router.delete(CACHE_API + "/keys/{name}", include_in_schema=False, status_code=204)
async def job_delete(name: str, request: Request, grant: GrantDep, session: SessionDep) -> Response:
    await entries.remove(session, _store(request), grant.project_id, check_name(name))
    return Response(status_code=204)


@router.delete(CACHE_API + "/keys", include_in_schema=False)
async def job_clear(request: Request, grant: GrantDep, session: SessionDep) -> dict[str, Any]:
    return {"deleted": await entries.clear(session, _store(request), grant.project_id)}


async def _signed_archive(
    owner: str, name: str, request: Request, expires: str = "", signature: str = ""
) -> Response:
    store = _store(request)
    if not isinstance(store, LocalStore) or not is_owner(owner):
        raise NotFound("no such cache URL")
    key = object_key(owner, check_name(name, "name"))
    if not store.verify(key, request.method, expires, signature):
        raise PermissionDenied("cache URL signature is invalid or has expired")
    if request.method == "PUT":
        await store.write(key, request.stream())
        return Response(status_code=200)
    item = await store.stat(key)
    if item is None:
        raise NotFound(f"cache archive {name!r} not found")
    if request.method == "HEAD":
        return Response(headers={"content-length": str(item.size)})
    return _File(store.path_of(key), media_type="application/octet-stream")


for _prefix in (LOOPBACK_PREFIX, DOMAIN_PREFIX):
    router.add_api_route(
        f"{_prefix}/{ROOT}/{{owner}}/{{name}}",
        _signed_archive,
        methods=["GET", "HEAD", "PUT"],
        include_in_schema=False,
    )


PROJECT_CACHE = "/api/v1alpha/projects/{project}/cache"


@router.get(PROJECT_CACHE)
async def list_project_cache(
    project: str, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> dict[str, Any]:
    """Lists the project's cache keys, newest stored first; with the space used and the limit."""
    found = await projects.get_project(session, caller, project)
    return await _listing(session, found.id, settings.cache_project_limit_bytes)


@router.delete(PROJECT_CACHE + "/{key}", status_code=204, response_class=Response)
async def delete_project_cache_key(
    project: str, key: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    """Deletes one of the project's cache keys (for those who may run its jobs)."""
    found = await projects.runnable(session, caller, project)
    await entries.remove(session, _store(request), found.id, check_name(key))
    return Response(status_code=204)


@router.delete(PROJECT_CACHE, status_code=204, response_class=Response)
async def clear_project_cache(
    project: str, request: Request, session: SessionDep, caller: CallerDep
) -> Response:
    """Deletes every cache key of the project (for those who may run its jobs)."""
    found = await projects.runnable(session, caller, project)
    await entries.clear(session, _store(request), found.id)
    return Response(status_code=204)
