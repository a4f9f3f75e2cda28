"""Reading and changing a project's artifact retention policy, in Semaphore's API shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.artifacts.retention import COLUMNS, FIELDS, age_text, parse_rules
from blockpost.db.models import ArtifactRetentionPolicy, Project
from blockpost.errors import InvalidInput


def as_json(policy: ArtifactRetentionPolicy | None) -> dict[str, list[dict[str, str]]]:
    """No policy is Semaphore's default: keep everything (every list empty)."""
    return {
        FIELDS[level]: [
            {"selector": rule["selector"], "age": age_text(rule["age"])}
            for rule in (getattr(policy, column) if policy else [])
        ]
        for level, column in COLUMNS.items()
    }


async def describe(session: AsyncSession, project: Project) -> dict[str, Any]:
    return as_json(await session.get(ArtifactRetentionPolicy, project.id))


async def update(session: AsyncSession, project: Project, body: dict[str, Any]) -> dict[str, Any]:
    """Replaces all three lists (a level left out keeps nothing back: no rules)."""
    rules = {level: parse_rules(body.get(field), field) for level, field in FIELDS.items()}
    if not any(rules.values()):
        raise InvalidInput("body", "at least one retention policy configuration must be defined")
    policy = await session.get(ArtifactRetentionPolicy, project.id)
    if policy is None:
        policy = ArtifactRetentionPolicy(project_id=project.id)
        session.add(policy)
    for level, column in COLUMNS.items():
        setattr(policy, column, rules[level])
    await session.flush()
    return as_json(policy)
