"""Deployment targets (`/api/v1alpha/deployment_targets`) and their history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import CallerDep, SealerDep, SessionDep, SettingsDep
from blockpost.api.request_model import RequestModel
from blockpost.db.models import Deployment, DeploymentTarget, Project
from blockpost.errors import InvalidInput
from blockpost.services import deployment_targets as targets
from blockpost.services import projects
from blockpost.services.deployment_targets import TargetFields
from blockpost.timefmt import EPOCH_MAX, iso_micros

router = APIRouter(prefix="/api/v1alpha/deployment_targets", tags=["deployment targets"])


async def _managed(target_id: str, session: SessionDep, caller: CallerDep) -> DeploymentTarget:
    return await targets.manageable_target(session, caller, target_id)


async def _deletable(
    target_id: str, session: SessionDep, caller: CallerDep
) -> DeploymentTarget | None:
    return await targets.deletable_target(session, caller, target_id)


async def _project_in_query(
    session: SessionDep,
    caller: CallerDep,
    project_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Project | None:
    return await projects.runnable(session, caller, project_id) if project_id else None


ManagedTarget = Annotated[DeploymentTarget, Depends(_managed)]


class SubjectRuleIn(RequestModel):
    type: str = Field(max_length=16)
    subject_id: str | None = Field(default=None, max_length=255)
    git_login: str | None = Field(default=None, max_length=255)


class ObjectRuleIn(RequestModel):
    type: str = Field(max_length=16)
    match_mode: str | None = Field(default=None, max_length=16)
    pattern: str | None = Field(default=None, max_length=1024)


class EnvVarIn(RequestModel):
    name: str = Field(min_length=1, max_length=255)
    value: str = Field(max_length=64 * 1024)


class FileIn(RequestModel):
    path: str = Field(min_length=1, max_length=1024)
    content: str = Field(max_length=4 * 1024 * 1024, description="base64")


class TargetIn(RequestModel):
    """Read-only fields a describe showed (`id`, `organization_id`, `state`, `active`,
    `last_deployment`, times) are ignored; a secret value sent back as the md5 a describe
    showed keeps the stored value."""

    name: str | None = Field(default=None, max_length=255)
    project_id: str | None = Field(default=None, max_length=100)
    unique_token: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    url: str | None = Field(default=None, max_length=2048)
    bookmark_parameter1: str | None = Field(default=None, max_length=255)
    bookmark_parameter2: str | None = Field(default=None, max_length=255)
    bookmark_parameter3: str | None = Field(default=None, max_length=255)
    subject_rules: list[SubjectRuleIn] | None = Field(default=None, max_length=100)
    object_rules: list[ObjectRuleIn] | None = Field(default=None, max_length=100)
    env_vars: list[EnvVarIn] | None = Field(default=None, max_length=1000)
    files: list[FileIn] | None = Field(default=None, max_length=100)

    def fields(self) -> TargetFields:
        return TargetFields(
            name=self.name,
            description=self.description,
            url=self.url,
            bookmarks=[
                self.bookmark_parameter1,
                self.bookmark_parameter2,
                self.bookmark_parameter3,
            ],
            subject_rules=[r.model_dump(exclude_none=True) for r in self.subject_rules]
            if self.subject_rules is not None
            else None,
            object_rules=[r.model_dump(exclude_none=True) for r in self.object_rules]
            if self.object_rules is not None
            else None,
            env_vars=[(e.name, e.value) for e in self.env_vars]
            if self.env_vars is not None
            else None,
            files=[(f.path, f.content) for f in self.files] if self.files is not None else None,
        )


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    return {
        "triggered_by": deployment.triggered_by,
        "triggered_at": iso_micros(deployment.triggered_at),
        "target_name": deployment.target_name,
        "target_id": deployment.target_id,
        "switch_id": deployment.switch_id,
        "state_message": deployment.state_message,
        "state": deployment.state,
        "prev_pipeline_id": deployment.prev_pipeline_id,
        "pipeline_id": deployment.pipeline_id,
        "id": deployment.id,
        "env_vars": deployment.env_vars,
    }


async def target_json(
    session: AsyncSession, target: DeploymentTarget, org_id: str
) -> dict[str, Any]:
    last = await targets.last_deployment(session, target)
    return {
        "url": target.url,
        "updated_by": target.updated_by,
        "updated_at": iso_micros(target.updated_at),
        "subject_rules": target.subject_rules,
        "state_message": "",
        "state": "CORDONED" if target.cordoned else "USABLE",
        "project_id": target.project_id,
        "organization_id": org_id,
        "object_rules": target.object_rules,
        "name": target.name,
        "last_deployment": deployment_json(last) if last else None,
        "id": target.id,
        "description": target.description,
        "created_by": target.created_by,
        "created_at": iso_micros(target.created_at),
        "bookmark_parameter3": target.bookmark_parameter3,
        "bookmark_parameter2": target.bookmark_parameter2,
        "bookmark_parameter1": target.bookmark_parameter1,
        "active": not target.cordoned,
    }


@router.get("")
async def list_targets(
    session: SessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    project_id: Annotated[str, Query(min_length=1, max_length=100)],
    target_name: Annotated[str | None, Query(max_length=255)] = None,
) -> list[dict[str, Any]]:
    """The project's targets by name; with `target_name`, the one so named (or none)."""
    rows = await targets.list_targets(session, caller, project_id, target_name)
    return [await target_json(session, row, settings.organization_id) for row in rows]


@router.get("/{target_id}")
async def describe_target(
    target_id: str, sealer: SealerDep, session: SessionDep, settings: SettingsDep, caller: CallerDep
) -> dict[str, Any]:
    """The target; its secrets as names and paths, with an md5 of each value for those who
    may change the target (null for others), never the value."""
    target = await targets.visible_target(session, caller, target_id)
    shown = await targets.shown_secrets(session, sealer, caller, target)
    return await target_json(session, target, settings.organization_id) | shown


@router.post("")
async def create_target(
    body: TargetIn,
    sealer: SealerDep,
    session: SessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    in_query: Annotated[Project | None, Depends(_project_in_query)],
) -> dict[str, Any]:
    """`unique_token` is required: a retry by the same user in the same project with the same
    token returns the same target. The project is `project_id` in the query or the body."""
    project = in_query
    if project is None and body.project_id:
        project = await projects.runnable(session, caller, body.project_id)
    if project is None:
        raise InvalidInput("project_id", "is required")
    if not body.unique_token:
        raise InvalidInput("unique_token", "is required")
    target = await targets.create(
        session, sealer, caller, project, body.unique_token, body.fields()
    )
    return await target_json(session, target, settings.organization_id)


@router.patch("/{target_id}")
async def update_target(
    target: ManagedTarget,
    body: TargetIn,
    sealer: SealerDep,
    session: SessionDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> dict[str, Any]:
    """Every field optional; env_vars or files given replace the stored ones."""
    target = await targets.update(session, sealer, caller, target, body.unique_token, body.fields())
    return await target_json(session, target, settings.organization_id)


@router.delete("/{target_id}")
async def delete_target(
    target_id: str,
    target: Annotated[DeploymentTarget | None, Depends(_deletable)],
    session: SessionDep,
    caller: CallerDep,
    unique_token: Annotated[str, Query(min_length=1, max_length=255)],
) -> dict[str, str]:
    """A retry by the same user with the same `unique_token` answers as the first call."""
    return {"target_id": await targets.delete(session, caller, target_id, target, unique_token)}


async def _cordon(
    target: DeploymentTarget, session: AsyncSession, caller: CallerDep, cordoned: bool
) -> dict[str, Any]:
    await targets.set_cordoned(session, caller, target, cordoned)
    return {"target_id": target.id, "cordoned": target.cordoned}


@router.patch("/{target_id}/deactivate")
async def deactivate_target(
    target: ManagedTarget, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """Cordons the target: promotions through it are refused until it is activated."""
    return await _cordon(target, session, caller, True)


@router.patch("/{target_id}/activate")
async def activate_target(
    target: ManagedTarget, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    return await _cordon(target, session, caller, False)


@router.get("/{target_id}/history")
async def target_history(
    target_id: str,
    session: SessionDep,
    caller: CallerDep,
    cursor_type: Literal["FIRST", "AFTER", "BEFORE"] = "FIRST",
    cursor_value: Annotated[int | None, Query(ge=0, le=EPOCH_MAX * 1_000_000)] = None,
    git_ref_type: Literal["branch", "tag", "pr"] | None = None,
    git_ref_label: Annotated[str | None, Query(max_length=1024)] = None,
    triggered_by: Annotated[str | None, Query(max_length=255)] = None,
) -> dict[str, Any]:
    """At most 10 deployments, newest first; `cursor_before`/`cursor_after` (Unix
    microseconds, 0 when there is nothing further) page with cursor_type BEFORE/AFTER."""
    target = await targets.visible_target(session, caller, target_id)
    page = await targets.history(
        session,
        target,
        cursor_type=cursor_type,
        cursor_value=cursor_value,
        git_ref_type=git_ref_type,
        git_ref_label=git_ref_label,
        triggered_by=triggered_by,
    )
    return {
        "deployments": [deployment_json(d) for d in page.deployments],
        "cursor_before": page.cursor_before,
        "cursor_after": page.cursor_after,
    }
