"""Deployment targets: create, change, cordon and delete them (idempotently), read history."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.crypto import Sealer
from blockpost.db.models import Deployment, DeploymentTarget, Project, TargetRequest
from blockpost.errors import Conflict, InvalidInput, NotFound
from blockpost.services import audit, projects
from blockpost.services.principal import Principal
from blockpost.services.secrets import SecretData, check_contents
from blockpost.timefmt import epoch_micros, from_epoch_micros, utcnow

SUBJECT_TYPES = {"ANY", "USER", "ROLE", "AUTO"}
# object rule type -> what people call the references it covers
OBJECT_KINDS = {"BRANCH": "branches", "TAG": "tags", "PR": "pull requests"}
OBJECT_TYPES = set(OBJECT_KINDS)
MATCH_MODES = {"ALL", "EXACT", "REGEX"}
# a ROLE rule's subject_id -> who holds it (engine.targets grants them)
ROLES = {"admin": "administrators", "member": "project members", "contributor": "project members"}
DEFAULT_SUBJECTS = [{"type": "ANY", "subject_id": ""}]
DEFAULT_OBJECTS = [{"type": kind, "pattern": "", "match_mode": "ALL"} for kind in OBJECT_KINDS]
HISTORY_PAGE = 10


@dataclass
class TargetFields:
    """What a create or update sets; None means "not given"."""

    name: str | None = None
    description: str | None = None
    url: str | None = None
    bookmarks: list[str | None] = field(default_factory=lambda: [None, None, None])
    subject_rules: list[dict[str, Any]] | None = None
    object_rules: list[dict[str, Any]] | None = None
    env_vars: list[tuple[str, str]] | None = None
    files: list[tuple[str, str]] | None = None  # contents in base64


def _given(values: TargetFields) -> list[str]:
    """The fields an update sets, by name only (env_vars and files hold secret values)."""
    given = [
        item.name
        for item in fields(values)
        if item.name != "bookmarks" and getattr(values, item.name) is not None
    ]
    if any(bookmark is not None for bookmark in values.bookmarks):
        given.append("bookmarks")
    return sorted(given)


def _subjects(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for index, rule in enumerate(rules):
        kind = str(rule.get("type", "")).upper()
        if kind not in SUBJECT_TYPES:
            raise InvalidInput(
                f"subject_rules.{index}.type", f"must be one of {sorted(SUBJECT_TYPES)}"
            )
        item = {"type": kind, "subject_id": str(rule.get("subject_id") or "")}
        if rule.get("git_login"):
            item["git_login"] = str(rule["git_login"])
        if kind in {"USER", "ROLE"} and not (item["subject_id"] or item.get("git_login")):
            raise InvalidInput(f"subject_rules.{index}.subject_id", f"is required for {kind}")
        checked.append(item)
    return checked


def _objects(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for index, rule in enumerate(rules):
        kind = str(rule.get("type", "")).upper()
        if kind not in OBJECT_TYPES:
            raise InvalidInput(
                f"object_rules.{index}.type", f"must be one of {sorted(OBJECT_TYPES)}"
            )
        mode = str(rule.get("match_mode") or "ALL").upper()
        if mode not in MATCH_MODES:
            raise InvalidInput(
                f"object_rules.{index}.match_mode", f"must be one of {sorted(MATCH_MODES)}"
            )
        pattern = str(rule.get("pattern") or "")
        if kind == "PR":
            mode, pattern = "ALL", ""
        elif mode == "REGEX":
            try:
                re.compile(pattern)
            # Deep nesting and huge repeat counts fail outside re.error.
            except (re.error, RecursionError, OverflowError) as exc:
                raise InvalidInput(
                    f"object_rules.{index}.pattern", f"is not a regex: {exc}"
                ) from None
        elif mode == "EXACT" and not pattern:
            raise InvalidInput(f"object_rules.{index}.pattern", "is required for EXACT")
        checked.append({"type": kind, "pattern": pattern, "match_mode": mode})
    return checked


@dataclass(frozen=True, slots=True)
class RulesInWords:
    """A target's rules as pages say them."""

    who: list[str]
    # per kind of reference (branches, tags, pull requests): "all", "none" or the patterns
    refs: list[tuple[str, str]]

    @property
    def allowed_refs(self) -> list[str]:
        return [f"{kind} {which}" for kind, which in self.refs if which != "none"]


def rule_user_ids(targets: Iterable[DeploymentTarget]) -> list[str]:
    """The user uuids the targets' USER rules name (for services.workflow_pages.user_names)."""
    return [
        str(rule.get("subject_id") or "")
        for target in targets
        for rule in target.subject_rules
        if rule.get("type") == "USER"
    ]


def describe_rules(target: DeploymentTarget, names: Mapping[str, str]) -> RulesInWords:
    """Who may promote through the target and from which references; `names` maps user
    uuids to usernames (rule_user_ids lists the ones needed)."""
    who = []
    for rule in target.subject_rules:
        kind, subject = rule.get("type"), str(rule.get("subject_id") or "")
        if kind == "ANY":
            who.append("anyone who may run jobs in the project")
        elif kind == "AUTO":
            who.append("auto-promotions")
        elif kind == "ROLE":
            who.append(ROLES.get(subject.lower(), f"role {subject}"))
        else:
            who.append(f"user {names.get(subject) or rule.get('git_login') or subject}")
    refs = []
    for kind, label in OBJECT_KINDS.items():
        said = []
        for rule in target.object_rules:
            if rule.get("type") != kind:
                continue
            mode = rule.get("match_mode", "ALL")
            if mode == "ALL":
                said = ["all"]
                break
            said.append(f"{rule.get('pattern')} ({'regex' if mode == 'REGEX' else 'exact'})")
        refs.append((label, ", ".join(said) or "none"))
    return RulesInWords(who, refs)


def _md5(value: str) -> str:
    """The fingerprint describe shows of a secret value: as Semaphore's, the md5 of an env
    var's value or of a file's content in base64."""
    return hashlib.md5(value.encode()).hexdigest()


def _kept(given: list[tuple[str, str]], current: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`given` with each value that is the md5 describe showed of the current value under the
    same name replaced by that value: `sem edit` sends back what it was shown."""
    old = dict(current)
    return [
        (key, old[key] if key in old and value.lower() == _md5(old[key]) else value)
        for key, value in given
    ]


def _apply(
    target: DeploymentTarget, values: TargetFields, sealer: Sealer, caller: Principal
) -> None:
    if values.name is not None:
        if not values.name.strip() or len(values.name) > 255:
            raise InvalidInput("name", "must be 1-255 characters")
        target.name = values.name
    if values.description is not None:
        target.description = values.description
    if values.url is not None:
        target.url = values.url
    for index, bookmark in enumerate(values.bookmarks, start=1):
        if bookmark is not None:
            setattr(target, f"bookmark_parameter{index}", bookmark)
    if values.subject_rules is not None:
        target.subject_rules = _subjects(values.subject_rules)
    if values.object_rules is not None:
        target.object_rules = _objects(values.object_rules)
    if values.env_vars is not None or values.files is not None:
        current = SecretData.unseal(sealer, target.sealed)
        current_files = [(path, base64.b64encode(data).decode()) for path, data in current.files]
        given = check_contents(
            _kept(values.env_vars or [], current.env_vars),
            _kept(values.files or [], current_files),
        )
        target.sealed = SecretData(
            given.env_vars if values.env_vars is not None else current.env_vars,
            given.files if values.files is not None else current.files,
        ).sealed(sealer)
    target.updated_by = caller.uuid
    target.updated_at = utcnow()


async def shown_secrets(
    session: AsyncSession, sealer: Sealer, caller: Principal, target: DeploymentTarget
) -> dict[str, list[dict[str, str | None]]]:
    """What describe shows of a visible target's secrets: names and paths, with an md5 of
    each value to those who may change the target; others see null in place of the md5."""
    data = SecretData.unseal(sealer, target.sealed)
    project = await session.get(Project, target.project_id)
    assert project is not None, "deployment_targets.project_id is a foreign key"
    shown = await projects.may_run(session, caller, project)
    return {
        "env_vars": [
            {"name": name, "value": _md5(value) if shown else None} for name, value in data.env_vars
        ],
        "files": [
            {"path": path, "content": _md5(base64.b64encode(content).decode()) if shown else None}
            for path, content in data.files
        ],
    }


async def _earlier(
    session: AsyncSession, caller: Principal, project_id: str, token: str, operation: str
) -> TargetRequest | None:
    """The caller's earlier request with this token in this project; asked only once the
    caller's right to the project (or target) has been checked."""
    request = await session.get(TargetRequest, (caller.id, project_id, token))
    if request is not None and request.operation != operation:
        raise Conflict(f"unique_token {token!r} was already used to {request.operation} a target")
    return request


def _remember(
    caller: Principal, target: DeploymentTarget, token: str, operation: str
) -> TargetRequest:
    return TargetRequest(
        user_id=caller.id,
        project_id=target.project_id,
        unique_token=token,
        operation=operation,
        target_id=target.id,
    )


async def visible_target(
    session: AsyncSession, caller: Principal, target_id: str
) -> DeploymentTarget:
    return await projects.visible_child(
        session, caller, DeploymentTarget, target_id, "deployment target"
    )


async def manageable_target(
    session: AsyncSession, caller: Principal, target_id: str
) -> DeploymentTarget:
    """The target, if the caller may change, cordon or delete it (its project's runners)."""
    return await projects.runnable_child(
        session, caller, DeploymentTarget, target_id, "deployment target"
    )


async def deletable_target(
    session: AsyncSession, caller: Principal, target_id: str
) -> DeploymentTarget | None:
    """The target, if the caller may delete it; None if it is gone and the caller deleted it
    (delete answers the retry). NotFound for anyone else, as for a target never made."""
    if await session.get(DeploymentTarget, target_id) is not None:
        return await manageable_target(session, caller, target_id)
    project_id = await session.scalar(
        select(TargetRequest.project_id)
        .where(
            TargetRequest.user_id == caller.id,
            TargetRequest.target_id == target_id,
            TargetRequest.operation == "delete",
        )
        .limit(1)
    )
    if project_id is None:
        raise NotFound(f"deployment target {target_id!r} not found")
    await projects.runnable(session, caller, project_id)
    return None


async def list_targets(
    session: AsyncSession, caller: Principal, project_ref: str, name: str | None = None
) -> Sequence[DeploymentTarget]:
    project = await projects.get_project(session, caller, project_ref)
    query = select(DeploymentTarget).where(DeploymentTarget.project_id == project.id)
    if name is not None:
        query = query.where(DeploymentTarget.name == name)
    return (await session.scalars(query.order_by(DeploymentTarget.name))).all()


async def create(
    session: AsyncSession,
    sealer: Sealer,
    caller: Principal,
    project: Project,
    token: str,
    values: TargetFields,
) -> DeploymentTarget:
    """In a project the caller may run in (projects.runnable); a retry by the caller with the
    same `unique_token` in the project returns the target the first call made."""
    if (earlier := await _earlier(session, caller, project.id, token, "create")) is not None:
        target = await session.get(DeploymentTarget, earlier.target_id)
        if target is None:
            raise NotFound(f"the target created with unique_token {token!r} was deleted")
        return target
    if not values.name:
        raise InvalidInput("name", "is required")
    if await session.scalar(
        select(DeploymentTarget.id).where(
            DeploymentTarget.project_id == project.id, DeploymentTarget.name == values.name
        )
    ):
        raise Conflict(f"the project already has a deployment target named {values.name!r}")
    now = utcnow()
    target = DeploymentTarget(
        project_id=project.id,
        subject_rules=DEFAULT_SUBJECTS,
        object_rules=DEFAULT_OBJECTS,
        sealed=SecretData().sealed(sealer),
        created_by=caller.uuid,
        created_at=now,
    )
    _apply(target, values, sealer, caller)
    session.add(target)
    await session.flush()
    session.add(_remember(caller, target, token, "create"))
    await session.flush()
    await audit.record(session, caller, "created", _resource(target))
    return target


def _resource(target: DeploymentTarget) -> audit.Resource:
    return audit.Resource("deployment_target", target.id, target.name, target.project_id)


# update, delete and set_cordoned take a target as manageable_target (or deletable_target)
# returned it.


async def update(
    session: AsyncSession,
    sealer: Sealer,
    caller: Principal,
    target: DeploymentTarget,
    token: str | None,
    values: TargetFields,
) -> DeploymentTarget:
    if token and (earlier := await _earlier(session, caller, target.project_id, token, "update")):
        if earlier.target_id != target.id:
            raise Conflict(f"unique_token {token!r} was already used on another target")
        return target
    if values.name is not None and values.name != target.name:
        clash = await session.scalar(
            select(DeploymentTarget.id).where(
                DeploymentTarget.project_id == target.project_id,
                DeploymentTarget.name == values.name,
            )
        )
        if clash:
            raise Conflict(f"the project already has a deployment target named {values.name!r}")
    _apply(target, values, sealer, caller)
    if token:
        session.add(_remember(caller, target, token, "update"))
    await session.flush()
    await audit.record(session, caller, "updated", _resource(target), {"fields": _given(values)})
    return target


async def delete(
    session: AsyncSession,
    caller: Principal,
    target_id: str,
    target: DeploymentTarget | None,
    token: str,
) -> str:
    """`target` None: the caller deleted it before; the same token answers as the first time."""
    if target is None:
        earlier = await session.scalar(
            select(TargetRequest).where(
                TargetRequest.user_id == caller.id,
                TargetRequest.target_id == target_id,
                TargetRequest.unique_token == token,
            )
        )
        if earlier is None:
            raise NotFound(f"deployment target {target_id!r} not found")
        if earlier.operation != "delete":
            raise Conflict(
                f"unique_token {token!r} was already used to {earlier.operation} a target"
            )
        return target_id
    if await _earlier(session, caller, target.project_id, token, "delete") is not None:
        raise Conflict(f"unique_token {token!r} was already used on another target")
    await session.delete(target)
    session.add(_remember(caller, target, token, "delete"))
    await session.flush()
    await audit.record(session, caller, "deleted", _resource(target))
    return target_id


async def set_cordoned(
    session: AsyncSession, caller: Principal, target: DeploymentTarget, cordoned: bool
) -> DeploymentTarget:
    target.cordoned = cordoned
    target.updated_by = caller.uuid
    target.updated_at = utcnow()
    await session.flush()
    await audit.record(session, caller, "cordoned" if cordoned else "uncordoned", _resource(target))
    return target


async def last_deployment(session: AsyncSession, target: DeploymentTarget) -> Deployment | None:
    return await session.scalar(
        select(Deployment)
        .where(Deployment.target_id == target.id)
        .order_by(Deployment.triggered_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class HistoryPage:
    deployments: Sequence[Deployment]
    cursor_before: int
    cursor_after: int


async def history(
    session: AsyncSession,
    target: DeploymentTarget,
    *,
    cursor_type: str = "FIRST",
    cursor_value: int | None = None,
    git_ref_type: str | None = None,
    git_ref_label: str | None = None,
    triggered_by: str | None = None,
) -> HistoryPage:
    """At most 10, newest first; cursors are Unix microseconds of `triggered_at`."""
    if cursor_type not in {"FIRST", "AFTER", "BEFORE"}:
        raise InvalidInput("cursor_type", "must be FIRST, AFTER or BEFORE")
    if cursor_type != "FIRST" and cursor_value is None:
        raise InvalidInput("cursor_value", f"is required with cursor_type {cursor_type}")
    filters = [Deployment.target_id == target.id]
    if git_ref_type:
        filters.append(Deployment.git_ref_type == git_ref_type)
    if git_ref_label:
        filters.append(Deployment.git_ref_label == git_ref_label)
    if triggered_by:
        filters.append(Deployment.triggered_by == triggered_by)
    page = select(Deployment).limit(HISTORY_PAGE)
    if cursor_type == "AFTER":
        at = from_epoch_micros(cursor_value or 0)
        oldest_first = page.where(*filters, Deployment.triggered_at > at).order_by(
            Deployment.triggered_at, Deployment.id
        )
        rows = (await session.scalars(oldest_first)).all()[::-1]
    else:
        where = list(filters)
        if cursor_type == "BEFORE":
            where.append(Deployment.triggered_at < from_epoch_micros(cursor_value or 0))
        newest_first = page.where(*where).order_by(
            Deployment.triggered_at.desc(), Deployment.id.desc()
        )
        rows = (await session.scalars(newest_first)).all()
    before = after = 0
    if rows:
        # the neighbours are looked for under the filters only, not the cursor
        oldest, newest = rows[-1].triggered_at, rows[0].triggered_at
        any_row = select(Deployment.id).limit(1)
        if await session.scalar(any_row.where(*filters, Deployment.triggered_at < oldest)):
            before = epoch_micros(oldest)
        if await session.scalar(any_row.where(*filters, Deployment.triggered_at > newest)):
            after = epoch_micros(newest)
    return HistoryPage(rows, before, after)
