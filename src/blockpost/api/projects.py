"""Projects (`/api/v1alpha/projects`) and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.api.pagination import PageDep
from blockpost.api.project_schemas import MemberIn, MemberOut, ProjectIn, ProjectOut
from blockpost.db.models import Project
from blockpost.services import projects
from blockpost.services.projects import Member

router = APIRouter(prefix="/api/v1alpha/projects", tags=["projects"])


async def _managed(project: str, session: SessionDep, caller: CallerDep) -> Project:
    return await projects.manageable(session, caller, project)


ManagedProject = Annotated[Project, Depends(_managed)]


def _member_out(member: Member) -> MemberOut:
    user = member.user
    return MemberOut(
        user_id=user.id, uuid=user.uuid, username=user.username, name=user.name, role=member.role
    )


@router.get("", response_model=list[ProjectOut])
async def list_projects(
    request: Request, response: Response, session: SessionDep, caller: CallerDep, page: PageDep
) -> list[ProjectOut]:
    """Projects the caller can see, by name, 30 to a page with a `link` header."""
    rows, total = await projects.list_projects(session, caller, page.offset, page.page_size)
    page.headers(request, response, total)
    return [ProjectOut.of(project) for project in rows]


@router.post("", response_model=ProjectOut)
async def create_project(
    body: ProjectIn, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> ProjectOut:
    """Creates a project owned by the caller. `spec.repository.url` is a remote git
    repository (https, ssh, git); paths on the server only with
    BLOCKPOST_ALLOW_LOCAL_REPOSITORIES=true."""
    allow_local = settings.allow_local_repositories
    return ProjectOut.of(
        await projects.create_project(session, caller, body.fields(), allow_local=allow_local)
    )


@router.get("/{project}", response_model=ProjectOut)
async def describe_project(project: str, session: SessionDep, caller: CallerDep) -> ProjectOut:
    """`project` is the project's id or name."""
    return ProjectOut.of(await projects.get_project(session, caller, project))


@router.patch("/{project}", response_model=ProjectOut)
@router.put("/{project}", response_model=ProjectOut)
async def update_project(
    project: ManagedProject, body: ProjectIn, session: SessionDep, settings: SettingsDep
) -> ProjectOut:
    """Changes the fields given and keeps the rest (owner or administrator only)."""
    allow_local = settings.allow_local_repositories
    changed = await projects.update_project(
        session, project, body.fields(), allow_local=allow_local
    )
    return ProjectOut.of(changed)


@router.delete("/{project}")
async def delete_project(project: ManagedProject, session: SessionDep) -> dict[str, str]:
    """Deletes the project (owner or administrator only)."""
    await projects.delete_project(session, project)
    return {}


@router.get("/{project}/members", response_model=list[MemberOut])
async def list_members(project: str, session: SessionDep, caller: CallerDep) -> list[MemberOut]:
    """The owner first, then members by username."""
    return [_member_out(m) for m in await projects.list_members(session, caller, project)]


@router.post("/{project}/members", response_model=MemberOut)
async def add_member(
    project: ManagedProject, body: MemberIn, response: Response, session: SessionDep
) -> MemberOut:
    """Adds a user by `user_id` or `username`: 201 when added, 200 when already a member."""
    member, added = await projects.add_member(
        session, project, user_id=body.user_id, username=body.username
    )
    response.status_code = 201 if added else 200
    return _member_out(member)


@router.delete("/{project}/members/{user}")
async def remove_member(project: ManagedProject, user: str, session: SessionDep) -> dict[str, str]:
    """`user` is a user id or username; the owner cannot be removed."""
    await projects.remove_member(session, project, user)
    return {}
