"""Projects: validation of names and repository URLs, visibility, ownership and members."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost import storable
from blockpost.commit_status.forges import PROVIDERS, forge_of
from blockpost.crypto import Sealer
from blockpost.db.models import Project, ProjectMember, User
from blockpost.db.paging import fetch_page
from blockpost.errors import FailedPrecondition, InvalidInput, NotFound, PermissionDenied
from blockpost.services.principal import Principal

DEFAULT_PIPELINE_FILE = ".semaphore/semaphore.yml"
DEFAULT_RUN_ON = ("branches", "tags")
DEFAULT_INTEGRATION = "git"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
URL_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://.+")
GIT_SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})
# git's own rule: a colon before the first slash makes `host:path` an scp-like address.
SCP_LIKE_RE = re.compile(r"^(?:[^@/:\s]+@)?[^/:\s]+:.+")
URL_MAX = 2048
STATUS_TOKEN_MAX = 1024


@dataclass
class ProjectFields:
    """What a create or update may set; None means "not given"."""

    name: str | None = None
    description: str | None = None
    repository_url: str | None = None
    pipeline_file: str | None = None
    run_on: list[str] | None = None
    visibility: str | None = None
    integration_type: str | None = None
    status_pipeline_files: list[dict[str, str]] | None = None
    status_token: str | None = None  # plain, as given; sealed when stored ("" removes it)
    whitelist: dict[str, Any] | None = None
    forked_pull_requests: dict[str, Any] | None = None
    custom_permissions: bool | None = None
    debug_permissions: list[str] | None = None
    attach_permissions: list[str] | None = None
    given: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self.given = {
            f.name for f in fields(self) if f.name != "given" and getattr(self, f.name) is not None
        }


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise InvalidInput(
            "metadata.name",
            "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    if _is_uuid(name):
        raise InvalidInput("metadata.name", "must not look like a UUID (ids are UUIDs)")


def check_repository_url(url: str, *, allow_local: bool) -> None:
    """A remote repository git can fetch; a local path or file:// only where the operator
    allows it (it would let any user read repositories on the server's disk)."""
    where = "spec.repository.url"
    if not url.strip():
        raise InvalidInput(where, "is required")
    if len(url) > URL_MAX:
        raise InvalidInput(where, f"must be at most {URL_MAX} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidInput(where, "must not contain control characters")
    if url.startswith("-"):
        raise InvalidInput(where, "must not start with '-' (git would read it as an option)")
    match = URL_SCHEME_RE.match(url)
    scheme = match.group(1).lower() if match else None
    if not (scheme or url.startswith("/") or SCP_LIKE_RE.match(url)):
        raise InvalidInput(
            where,
            "must be a URL (https://, ssh://, git://, file://), "
            "an scp-like address (git@host:path) or an absolute path",
        )
    if "::" in url.split("/", 1)[0]:
        raise InvalidInput(where, "must not name a git transport helper ('name::address')")
    if match and scheme not in GIT_SCHEMES:
        raise InvalidInput(where, f"scheme {match.group(1)}:// is not one git fetches here")
    local = url.startswith("/") or scheme == "file"
    if local and not allow_local:
        raise InvalidInput(
            where,
            "is a path on the server; local repositories are refused unless the server "
            "runs with BLOCKPOST_ALLOW_LOCAL_REPOSITORIES=true",
        )


def check_pipeline_file(path: str, where: str = "spec.repository.pipeline_file") -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or len(path) > 1024:
        raise InvalidInput(where, "must be a relative path inside the repository")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _member_of(caller: Principal) -> ColumnElement[bool]:
    return exists().where(
        ProjectMember.project_id == Project.id, ProjectMember.user_id == caller.id
    )


def visible_to(caller: Principal) -> ColumnElement[bool]:
    """Admins see every project; others their own, those they belong to, and public ones."""
    if caller.admin:
        return Project.id.is_not(None)
    return or_(Project.owner_id == caller.id, Project.visibility == "public", _member_of(caller))


async def list_projects(
    session: AsyncSession, caller: Principal, offset: int, limit: int
) -> tuple[list[Project], int]:
    where = visible_to(caller)
    query = select(Project).where(where).order_by(Project.name)
    return await fetch_page(session, query, offset, limit)


class InProject(Protocol):
    project_id: str


Child = TypeVar("Child", bound=InProject)


async def _child(
    session: AsyncSession, caller: Principal, model: type[Child], item_id: str, what: str
) -> tuple[Child, Project]:
    item = await session.get(model, item_id)
    missing = NotFound(f"{what} {item_id!r} not found")
    if item is None:
        raise missing
    try:
        return item, await get_project(session, caller, item.project_id)
    except NotFound:
        raise missing from None


async def visible_child(
    session: AsyncSession, caller: Principal, model: type[Child], item_id: str, what: str
) -> Child:
    """A row that belongs to a project (workflow, schedule, target...), if the caller sees
    the project; otherwise NotFound, the same as for a row that does not exist."""
    item, _ = await _child(session, caller, model, item_id, what)
    return item


async def runnable_child(
    session: AsyncSession, caller: Principal, model: type[Child], item_id: str, what: str
) -> Child:
    """A row of a project, if the caller may act on it (stop, change, delete): the right to
    run jobs in its project. NotFound where visible_child gives it, else PermissionDenied."""
    item, project = await _child(session, caller, model, item_id, what)
    await ensure_runnable(session, caller, project)
    return item


async def get_project_by_any(session: AsyncSession, caller: Principal, ref: str) -> Project:
    """By id, by integer number (as the task-launch API names projects), or by name."""
    number = storable.whole_number(ref)
    if number is not None:
        project = await session.scalar(
            select(Project).where(Project.number == number, visible_to(caller))
        )
        if project is not None:
            return project
    return await get_project(session, caller, ref)


async def get_project(session: AsyncSession, caller: Principal, id_or_name: str) -> Project:
    key = Project.id == id_or_name if _is_uuid(id_or_name) else Project.name == id_or_name
    project = await session.scalar(select(Project).where(key, visible_to(caller)))
    if project is None:
        raise NotFound(f"project {id_or_name!r} not found")
    return project


async def may_run(session: AsyncSession, caller: Principal, project: Project) -> bool:
    """Its owner, its members and administrators may run jobs in a project, and manage
    what belongs to it (secrets, deployment targets, schedules, runs)."""
    if caller.admin or project.owner_id == caller.id:
        return True
    return await session.get(ProjectMember, (project.id, caller.id)) is not None


async def runnable_ids(
    session: AsyncSession, caller: Principal, shown: Sequence[Project]
) -> set[str]:
    """The ids of the projects in `shown` the caller may run jobs in (may_run's rule), in at
    most one query for a whole page of projects."""
    if caller.admin:
        return {project.id for project in shown}
    found = {project.id for project in shown if project.owner_id == caller.id}
    others = [project.id for project in shown if project.id not in found]
    if others:
        rows = await session.scalars(
            select(ProjectMember.project_id).where(
                ProjectMember.user_id == caller.id, ProjectMember.project_id.in_(others)
            )
        )
        found.update(rows.all())
    return found


async def ensure_runnable(session: AsyncSession, caller: Principal, project: Project) -> Project:
    if not await may_run(session, caller, project):
        raise PermissionDenied("only the project's owner, members or an administrator may run jobs")
    return project


async def runnable(session: AsyncSession, caller: Principal, id_or_name: str) -> Project:
    """The project, if the caller may run jobs in it (see may_run)."""
    return await ensure_runnable(session, caller, await get_project(session, caller, id_or_name))


async def manageable(session: AsyncSession, caller: Principal, id_or_name: str) -> Project:
    """The project, if the caller may change it, delete it or choose its members."""
    project = await get_project(session, caller, id_or_name)
    if not (caller.admin or project.owner_id == caller.id):
        raise PermissionDenied("only the project's owner or an administrator may do this")
    return project


async def _ensure_name_free(session: AsyncSession, name: str, except_id: str | None = None) -> None:
    clash = await session.scalar(select(Project.id).where(Project.name == name))
    if clash is not None and clash != except_id:
        raise FailedPrecondition(f"metadata.name: a project named {name!r} already exists")


def _set_status_token(project: Project, token: str, sealer: Sealer) -> None:
    """Seals the token commit statuses are posted with, once the project it would post
    for names a forge; "" removes it."""
    where = "spec.repository.status_token"
    if not token:
        project.status_token = ""
        return
    if len(token) > STATUS_TOKEN_MAX or not all(33 <= ord(ch) < 127 for ch in token):
        raise InvalidInput(
            where,
            f"must be at most {STATUS_TOKEN_MAX} printable ASCII characters without spaces "
            "(it goes in an HTTP header)",
        )
    if forge_of(project.integration_type, project.repository_url) is None:
        raise InvalidInput(
            where,
            "posts commit statuses to a forge: integration_type must be one of "
            f"{', '.join(PROVIDERS)} and the repository URL must name an owner and a "
            f"repository (integration_type is {project.integration_type!r})",
        )
    project.status_token = sealer.seal(token)


def _apply(project: Project, values: ProjectFields, allow_local: bool, sealer: Sealer) -> None:
    if "name" in values.given:
        check_name(values.name or "")
    if "repository_url" in values.given:
        check_repository_url(values.repository_url or "", allow_local=allow_local)
    if "pipeline_file" in values.given:
        check_pipeline_file(values.pipeline_file or "")
    for index, item in enumerate(values.status_pipeline_files or []):
        check_pipeline_file(item["path"], f"spec.repository.status.pipeline_files.{index}.path")
    for name in values.given - {"status_token"}:
        setattr(project, name, getattr(values, name))
    if values.status_token is not None:
        _set_status_token(project, values.status_token, sealer)


async def create_project(
    session: AsyncSession,
    caller: Principal,
    values: ProjectFields,
    *,
    allow_local: bool,
    sealer: Sealer,
) -> Project:
    if values.name is None:
        raise InvalidInput("metadata.name", "is required")
    if values.repository_url is None:
        raise InvalidInput("spec.repository.url", "is required")
    project = Project(
        owner_id=caller.id,
        description="",
        visibility="private",
        pipeline_file=DEFAULT_PIPELINE_FILE,
        integration_type=DEFAULT_INTEGRATION,
        run_on=list(DEFAULT_RUN_ON),
        whitelist={"branches": [], "tags": []},
        forked_pull_requests={"allowed_secrets": [], "allowed_contributors": []},
        custom_permissions=False,
        debug_permissions=[],
        attach_permissions=[],
        status_token="",
    )
    _apply(project, values, allow_local, sealer)
    if values.status_pipeline_files is None:
        # Semaphore's default: the initial pipeline file reports at pipeline level
        project.status_pipeline_files = [{"path": project.pipeline_file, "level": "pipeline"}]
    await _ensure_name_free(session, project.name)
    project.number = (await session.scalar(select(func.max(Project.number))) or 0) + 1
    session.add(project)
    await session.flush()
    await session.refresh(project, ["owner"])
    return project


async def update_project(
    session: AsyncSession,
    project: Project,
    values: ProjectFields,
    *,
    allow_local: bool,
    sealer: Sealer,
) -> Project:
    """`project` as `manageable` returned it."""
    if values.name is not None:
        # before the change: the check's SELECT would flush the clashing name first
        check_name(values.name)
        await _ensure_name_free(session, values.name, except_id=project.id)
    _apply(project, values, allow_local, sealer)
    await session.flush()
    return project


async def delete_project(session: AsyncSession, project: Project) -> None:
    await session.delete(project)
    await session.flush()


# A project's roles: the owner (who created it) and members, who may run its work.
OWNER, MEMBER = "owner", "member"
ROLE_NAMES = {OWNER: "Owner", MEMBER: "Member"}


@dataclass(frozen=True)
class Member:
    user: User
    role: str


async def list_members(session: AsyncSession, caller: Principal, id_or_name: str) -> list[Member]:
    project = await get_project(session, caller, id_or_name)
    owner = await session.get(User, project.owner_id)
    assert owner is not None, "projects.owner_id is a foreign key"
    rows = await session.scalars(
        select(User)
        .join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project.id)
        .order_by(User.username)
    )
    return [Member(owner, OWNER), *(Member(user, MEMBER) for user in rows)]


async def _user_by_ref(session: AsyncSession, user_id: int | None, username: str | None) -> User:
    if user_id is not None:
        user = await session.get(User, user_id)
        field_name, value = "user_id", str(user_id)
    elif username is not None:
        user = await session.scalar(select(User).where(User.username == username))
        field_name, value = "username", username
    else:
        raise InvalidInput("user_id", "give user_id or username")
    if user is None:
        raise InvalidInput(field_name, f"no user {value!r}")
    return user


async def find_user(session: AsyncSession, ref: str) -> User | None:
    """A user by uuid (Semaphore's subject id), integer id or username."""
    if _is_uuid(ref):
        return await session.scalar(select(User).where(User.uuid == str(uuid.UUID(ref))))
    user_id = storable.whole_number(ref)
    if user_id is not None:
        return await session.get(User, user_id)
    return await session.scalar(select(User).where(User.username == ref))


def member_role(role_ref: str) -> str:
    """The role a `role_id` names (by id or name, any case); only members can be assigned."""
    role = next((r for r, name in ROLE_NAMES.items() if role_ref.lower() in (r, name.lower())), "")
    if role == OWNER:
        raise InvalidInput("role_id", "the owner role comes with creating the project")
    if role != MEMBER:
        raise InvalidInput("role_id", f"no role {role_ref!r}; the assignable role is 'member'")
    return role


async def add_member(
    session: AsyncSession,
    project: Project,
    *,
    user_id: int | None = None,
    username: str | None = None,
    user: User | None = None,
) -> tuple[Member, bool]:
    """Returns the member and whether it was newly added (adding twice is not an error)."""
    user = user or await _user_by_ref(session, user_id, username)
    if user.id == project.owner_id:
        return Member(user, OWNER), False
    if await session.get(ProjectMember, (project.id, user.id)) is not None:
        return Member(user, MEMBER), False
    session.add(ProjectMember(project_id=project.id, user_id=user.id))
    await session.flush()
    return Member(user, MEMBER), True


async def remove_member(session: AsyncSession, project: Project, user_ref: str) -> None:
    user = await find_user(session, user_ref)
    if user is not None and user.id == project.owner_id:
        raise InvalidInput("user", "the owner cannot be removed from the project")
    membership = user and await session.get(ProjectMember, (project.id, user.id))
    if not membership:
        raise NotFound(f"{user_ref!r} is not a member of this project")
    await session.delete(membership)
    await session.flush()
