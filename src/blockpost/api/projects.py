"""Projects (`/api/v1alpha/projects`) and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from blockpost.api.deps import CallerDep, SealerDep, SessionDep, SettingsDep
from blockpost.api.pagination import PageDep
from blockpost.api.project_schemas import (
    MemberIn,
    MemberOut,
    MembersOut,
    ProjectIn,
    ProjectOut,
    RoleIn,
)
from blockpost.db.models import Project
from blockpost.errors import NotFound
from blockpost.hooks import listing
from blockpost.services import projects

router = APIRouter(prefix="/api/v1alpha/projects", tags=["projects"])


async def _managed(project: str, session: SessionDep, caller: CallerDep) -> Project:
    return await projects.manageable(session, caller, project)


ManagedProject = Annotated[Project, Depends(_managed)]


async def _set_polling(session: SessionDep, body: ProjectIn, project: Project) -> None:
    """spec.repository.poll_interval, kept with the project's webhook (hooks/)."""
    poll_interval = body.spec.repository.poll_interval if body.spec.repository else None
    if poll_interval is not None:
        await listing.set_poll_interval(session, project, poll_interval)


@router.get("", response_model=list[ProjectOut])
async def list_projects(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
    settings: SettingsDep,
) -> list[ProjectOut]:
    """Projects the caller can see, by name, 30 to a page with paging headers."""
    rows, total = await projects.list_projects(session, caller, page.offset, page.page_size)
    page.headers(request, response, total)
    return [ProjectOut.of(project, settings.organization_id) for project in rows]


@router.post("", response_model=ProjectOut)
async def create_project(
    body: ProjectIn,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    sealer: SealerDep,
) -> ProjectOut:
    """Creates a project owned by the caller. `spec.repository.url` is a remote git
    repository (https, ssh, git); paths on the server only with
    BLOCKPOST_ALLOW_LOCAL_REPOSITORIES=true."""
    allow_local = settings.allow_local_repositories
    created = await projects.create_project(
        session, caller, body.fields(), allow_local=allow_local, sealer=sealer
    )
    await _set_polling(session, body, created)
    return ProjectOut.of(created, settings.organization_id)


@router.get("/{project}", response_model=ProjectOut)
async def describe_project(
    project: str, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> ProjectOut:
    """`project` is the project's id or name."""
    found = await projects.get_project(session, caller, project)
    return ProjectOut.of(found, settings.organization_id)


@router.patch("/{project}", response_model=ProjectOut)
@router.put("/{project}", response_model=ProjectOut)
async def update_project(
    project: ManagedProject,
    body: ProjectIn,
    session: SessionDep,
    settings: SettingsDep,
    sealer: SealerDep,
) -> ProjectOut:
    """Changes the fields given and keeps the rest (owner or administrator only)."""
    allow_local = settings.allow_local_repositories
    changed = await projects.update_project(
        session, project, body.fields(), allow_local=allow_local, sealer=sealer
    )
    await _set_polling(session, body, changed)
    return ProjectOut.of(changed, settings.organization_id)


@router.delete("/{project}")
async def delete_project(project: ManagedProject, session: SessionDep) -> dict[str, str]:
    """Deletes the project (owner or administrator only)."""
    await projects.delete_project(session, project)
    return {}


@router.get("/{project}/members", response_model=MembersOut)
async def list_members(project: str, session: SessionDep, caller: CallerDep) -> MembersOut:
    """The owner first, then members by username, in Semaphore's `{"members": [...]}`."""
    members = await projects.list_members(session, caller, project)
    return MembersOut(members=[MemberOut.of(m) for m in members])


@router.post("/{project}/members", response_model=MemberOut)
async def add_member(
    project: ManagedProject, body: MemberIn, response: Response, session: SessionDep
) -> MemberOut:
    """Adds a user by `user_id` or `username`: 201 when added, 200 when already a member."""
    member, added = await projects.add_member(
        session, project, user_id=body.user_id, username=body.username
    )
    response.status_code = 201 if added else 200
    return MemberOut.of(member)


@router.put("/{project}/members/{subject_id}/role")
async def assign_role(
    project: ManagedProject, subject_id: str, body: RoleIn, session: SessionDep
) -> dict[str, str]:
    """Semaphore's role assignment: makes the user (uuid, id or username) a member."""
    projects.member_role(body.role_id)
    user = await projects.find_user(session, subject_id)
    if user is None:
        raise NotFound(f"user {subject_id!r} not found")
    await projects.add_member(session, project, user=user)
    return {"status": "assigned"}


@router.delete("/{project}/members/{subject_id}/role")
async def retract_role(project: ManagedProject, subject_id: str, session: SessionDep) -> bool:
    """Semaphore's role retraction: the user is no longer a member (answers `true`)."""
    await projects.remove_member(session, project, subject_id)
    return True


@router.delete("/{project}/members/{user}")
async def remove_member(project: ManagedProject, user: str, session: SessionDep) -> dict[str, str]:
    """`user` is a user uuid, id or username; the owner cannot be removed."""
    await projects.remove_member(session, project, user)
    return {}
