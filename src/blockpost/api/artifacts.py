"""Artifacts: the hub Semaphore's artifact CLI asks for signed URLs, the local store's
signed URLs, and the people's API (list, signed URL, download, delete, retention)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.api.request_model import RequestModel
from blockpost.artifacts import access, hub, listing, policies, tokens
from blockpost.artifacts.paths import PLURALS, Key, clean_path, is_owner, level_name
from blockpost.artifacts.store import DOMAIN_PREFIX, LOOPBACK_PREFIX, ArtifactStore, LocalStore
from blockpost.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from blockpost.services import projects
from blockpost.services.principal import Principal

router = APIRouter(tags=["artifacts"])

HUB_PATH = "/api/v1/artifacts"


class _File(FileResponse):
    chunk_size = 1024 * 1024  # starlette sends 64 KiB at a time: 16 times the sends


def _store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifact_store
    return store


@router.post(HUB_PATH, include_in_schema=False)
async def generate_signed_urls(
    request: Request, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Semaphore's artifact hub: the raw SEMAPHORE_ARTIFACT_TOKEN in `authorization`, a JSON
    body with no Content-Type; signed URLs back."""
    job_id = tokens.job_of(settings.secret_key, request.headers.get("authorization", ""))
    if job_id is None:
        raise NotAuthenticated("authorization must be the job's SEMAPHORE_ARTIFACT_TOKEN")
    grant = await access.grant_for_job(session, job_id)
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise InvalidInput("body", "must be JSON") from None
    paths, kind = hub.parse_request(body)
    base_url = str(request.base_url)
    urls = await hub.signed_urls(_store(request), grant, paths, kind, base_url)
    return {"urls": urls, "error": ""}


async def _signed_object(
    level: str, owner: str, path: str, request: Request, expires: str = "", signature: str = ""
) -> Response:
    store = _store(request)
    if not isinstance(store, LocalStore) or level not in PLURALS or not is_owner(owner):
        raise NotFound("no such artifact URL")
    key = Key(level, owner, clean_path(path))
    if not store.verify(key.text, request.method, expires, signature):
        raise PermissionDenied("artifact URL signature is invalid or has expired")
    if request.method == "PUT":
        await store.write(key.text, request.stream())
        return Response(status_code=200)
    if request.method == "DELETE":
        await store.delete(key.text)
        return Response(status_code=204)
    item = await store.stat(key.text)
    if item is None:
        raise NotFound(f"artifact {key.path!r} not found")
    if request.method == "HEAD":
        return Response(headers={"content-length": str(item.size)})
    return _File(store.path_of(key.text), media_type="application/octet-stream")


for _prefix in (LOOPBACK_PREFIX, DOMAIN_PREFIX):
    router.add_api_route(
        f"{_prefix}/artifacts/{{level}}/{{owner}}/{{path:path}}",
        _signed_object,
        methods=["GET", "HEAD", "PUT", "DELETE"],
        include_in_schema=False,
    )


ScopeQuery = Annotated[
    str, Query(description="project, workflow or job (Semaphore's plurals also work)")
]
OwnerQuery = Annotated[
    str, Query(description="The project's, workflow's or job's id (also as `id`).")
]


async def _owner(
    scope: ScopeQuery,
    scope_id: OwnerQuery = "",
    id: Annotated[str, Query(include_in_schema=False)] = "",
) -> tuple[str, str]:
    """(scope, owner id) as the query names them: Semaphore's `scope_id`, or our `id`."""
    return scope, scope_id or id


OwnerDep = Annotated[tuple[str, str], Depends(_owner)]


async def _located(
    session: AsyncSession, caller: Principal, owner: tuple[str, str], path: str
) -> tuple[Key, str]:
    """The key the query names, and the id of the project it belongs to (which the
    caller may see)."""
    scope, scope_id = owner
    level = level_name(scope)
    if not scope_id:
        raise InvalidInput("scope_id", "must be present")
    project = await access.project_of(session, caller, level, scope_id)
    owner = project.id if level == "projects" else scope_id
    return Key(level, owner, clean_path(path, allow_empty=True)), project.id


@router.get("/api/v1alpha/artifacts")
async def list_artifacts(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    owner: OwnerDep,
    path: str = "",
) -> dict[str, Any]:
    """The files and directories at `path` (default: the top) of a project's, workflow's
    or job's artifacts."""
    key, _ = await _located(session, caller, owner, path)
    return {"artifacts": await listing.entries(_store(request), key)}


@router.get("/api/v1alpha/artifacts/signed_url")
async def artifact_signed_url(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    owner: OwnerDep,
    path: str,
    method: Literal["GET", "HEAD"] = "GET",
) -> dict[str, Any]:
    """A URL to download (GET) or check (HEAD) one artifact file, as Semaphore's."""
    key, _ = await _located(session, caller, owner, path)
    store = _store(request)
    if not key.path or await store.stat(key.text) is None:
        raise NotFound("Artifact not found")
    url = store.signed_url(key.text, method, str(request.base_url))
    return {"items": [{"path": key.path, "url": url}]}


@router.get("/api/v1alpha/artifacts/download", response_class=RedirectResponse)
async def download_artifact(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    owner: OwnerDep,
    path: str,
) -> RedirectResponse:
    """Redirects (307) to a signed URL of the file (`curl -L` follows)."""
    key, _ = await _located(session, caller, owner, path)
    store = _store(request)
    if not key.path or await store.stat(key.text) is None:
        raise NotFound("Artifact not found")
    return RedirectResponse(store.signed_url(key.text, "GET", str(request.base_url)), 307)


@router.delete("/api/v1alpha/artifacts", status_code=204, response_class=Response)
async def delete_artifacts(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    owner: OwnerDep,
    path: str,
) -> Response:
    """Deletes a file, or a directory with everything in it; only those who may run jobs
    in the project may."""
    key, project_id = await _located(session, caller, owner, path)
    await projects.runnable(session, caller, project_id)
    if not key.path:
        raise InvalidInput("path", "must name a file or directory")
    await listing.remove(_store(request), key)
    return Response(status_code=204)


class RetentionRuleIn(RequestModel):
    selector: str
    age: str


class RetentionPolicyIn(RequestModel):
    project_id: str
    project_level_retention_policies: list[RetentionRuleIn] | None = None
    workflow_level_retention_policies: list[RetentionRuleIn] | None = None
    job_level_retention_policies: list[RetentionRuleIn] | None = None


@router.get("/api/v1alpha/artifacts_retention_policies/{project_id}")
async def describe_retention_policy(
    project_id: str, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """The project's rules; ages in Semaphore's words ("2 weeks"). No rules: keep all."""
    project = await projects.get_project(session, caller, project_id)
    return await policies.describe(session, project)


@router.post("/api/v1alpha/artifacts_retention_policies")
async def update_retention_policy(
    body: RetentionPolicyIn, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """Replaces the project's rules: per level a list of {selector (a glob under the
    level's directory, e.g. "/**/*"), age ("1 day" .. "12 years")}; the first rule that
    matches an artifact decides. Only the project's owner or an administrator may."""
    project = await projects.manageable(session, caller, body.project_id)
    return await policies.update(session, project, body.model_dump(exclude={"project_id"}))
