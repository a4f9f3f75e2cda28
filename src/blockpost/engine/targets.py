"""Deployment target rules: who may promote through a target, from which git references."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Deployment, DeploymentTarget, Pipeline, ProjectMember, Workflow
from blockpost.services.principal import Principal

AUTO = "Pipeline Done request"
GIT_REF_TYPES = {"branch": "branch", "tag": "tag", "pull-request": "pr"}
RULE_TYPES = {"branch": "BRANCH", "tag": "TAG", "pull-request": "PR"}


async def _subject_allowed(
    session: AsyncSession, target: DeploymentTarget, caller: Principal | None
) -> bool:
    rules = target.subject_rules
    if caller is None:
        return any(rule["type"] == "AUTO" for rule in rules)
    member = await session.get(ProjectMember, (target.project_id, caller.id)) is not None
    for rule in rules:
        kind = rule["type"]
        if kind == "ANY":
            return True
        if kind == "USER" and caller.uuid == rule.get("subject_id"):
            return True
        if kind == "USER" and rule.get("git_login") and rule["git_login"] == caller.username:
            return True
        if kind == "ROLE":
            role = str(rule.get("subject_id", "")).lower()
            if role == "admin" and caller.admin:
                return True
            if role in {"member", "contributor"} and (member or caller.admin):
                return True
    return False


def _object_allowed(target: DeploymentTarget, workflow: Workflow) -> bool:
    wanted = RULE_TYPES[workflow.ref_type]
    for rule in target.object_rules:
        if rule["type"] != wanted:
            continue
        if wanted == "PR" or rule.get("match_mode", "ALL") == "ALL":
            return True
        pattern = rule.get("pattern", "")
        if rule["match_mode"] == "EXACT" and workflow.ref_name == pattern:
            return True
        if rule["match_mode"] == "REGEX" and re.fullmatch(pattern, workflow.ref_name):
            return True
    return False


async def refusal(
    session: AsyncSession,
    target: DeploymentTarget,
    workflow: Workflow,
    caller: Principal | None,
) -> str:
    """Why the target refuses this promotion, or "" when it allows it."""
    if target.cordoned:
        return f"deployment target {target.name!r} is deactivated (cordoned)"
    if not await _subject_allowed(session, target, caller):
        who = "auto-promotions" if caller is None else f"user {caller.username!r}"
        return f"deployment target {target.name!r} does not allow {who}"
    if not _object_allowed(target, workflow):
        kind = GIT_REF_TYPES[workflow.ref_type]
        return f"deployment target {target.name!r} does not allow {kind} {workflow.ref_name!r}"
    return ""


async def record(
    session: AsyncSession,
    target: DeploymentTarget,
    workflow: Workflow,
    source: Pipeline,
    started: Pipeline | None,
    caller: Principal | None,
    parameters: Mapping[str, str],
    refused: str,
) -> None:
    """Writes the attempt to the target's history, allowed or not."""
    session.add(
        Deployment(
            target_id=target.id,
            target_name=target.name,
            triggered_by=caller.uuid if caller else AUTO,
            state="FAILED" if refused else "STARTED",
            state_message=refused,
            switch_id=source.id,
            prev_pipeline_id=source.id,
            pipeline_id=started.id if started else "",
            git_ref_type=GIT_REF_TYPES[workflow.ref_type],
            git_ref_label=workflow.ref_name,
            env_vars=[{"name": name, "value": value} for name, value in parameters.items()],
        )
    )
