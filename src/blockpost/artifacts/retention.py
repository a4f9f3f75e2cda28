"""Artifact retention as Semaphore has it: per project, rules of (selector glob, age) for
each level; a background pass removes the artifacts the first matching rule finds too old.

It also removes the artifacts of workflows, jobs and projects that no longer exist.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from blockpost.artifacts.paths import ROOT
from blockpost.artifacts.store import ArtifactStore
from blockpost.background import LoopService
from blockpost.db.engine import Database
from blockpost.db.leader import LeaderLock
from blockpost.db.models import ArtifactRetentionPolicy, Job, Project, Workflow
from blockpost.errors import InvalidInput
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)

LEADER_KEY = 0x626C6B70_0018  # "blkp", artifact retention (issue 18)
DAY = 24 * 3600
# Semaphore's units (public-api artifacthub_client.ex): a month is 30 days, a year 365.
UNITS = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY, "year": 365 * DAY}
AGE_FORMAT = re.compile(r"^(1[0-2]|[1-9])\s(day|days|week|weeks|month|months|year|years)$")
MAX_RULES = 10
MAX_SELECTOR = 100
# Each level's field in Semaphore's API, and its column (db/models/artifacts.py).
FIELDS = {
    "projects": "project_level_retention_policies",
    "workflows": "workflow_level_retention_policies",
    "jobs": "job_level_retention_policies",
}
COLUMNS = {"projects": "project_rules", "workflows": "workflow_rules", "jobs": "job_rules"}


def parse_age(age: Any, where: str) -> int:
    if not isinstance(age, str) or not (match := AGE_FORMAT.match(age)):
        raise InvalidInput(
            where,
            f"invalid 'age' value: {age!r} - valid examples: 5 days, 1 week, 2 weeks, "
            "3 months, 4 years",
        )
    return int(match.group(1)) * UNITS[match.group(2).removesuffix("s")]


def age_text(seconds: int) -> str:
    """Seconds back to Semaphore's words: the largest unit that divides them."""
    for unit in ("year", "month", "week"):
        if seconds % UNITS[unit] == 0:
            count = seconds // UNITS[unit]
            return f"{count} {unit}{'' if count == 1 else 's'}"
    count = seconds // DAY
    return f"{count} day{'' if count == 1 else 's'}"


def parse_rules(rules: Any, field: str) -> list[dict[str, Any]]:
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise InvalidInput(field, "must be a list of {selector, age}")
    if len(rules) > MAX_RULES:
        raise InvalidInput(field, f"at most {MAX_RULES} rules")
    parsed = []
    for index, rule in enumerate(rules):
        where = f"{field}[{index}]"
        if not isinstance(rule, dict):
            raise InvalidInput(where, "must be an object with selector and age")
        selector = rule.get("selector")
        if not isinstance(selector, str) or not selector:
            raise InvalidInput(f"{where}.selector", "must be a non-empty string")
        if len(selector) > MAX_SELECTOR:
            raise InvalidInput(f"{where}.selector", f"at most {MAX_SELECTOR} characters")
        parsed.append({"selector": selector, "age": parse_age(rule.get("age"), f"{where}.age")})
    return parsed


def glob_pattern(glob: str) -> re.Pattern[str]:
    """doublestar's syntax, as Semaphore matches selectors: `**` any number of segments,
    `*` and `?` within one."""
    out = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        elif glob[index] == "*":
            out.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(glob[index]))
            index += 1
    return re.compile("".join(out) + r"\Z")


def expired(rules: list[dict[str, Any]], level: str, key: str, age_seconds: float) -> bool:
    """Whether the first rule whose selector matches the key finds it older than its age."""
    for rule in rules:
        if glob_pattern(f"{ROOT}/{level}/**{rule['selector']}").match(key):
            return age_seconds > rule["age"]
    return False


class Retention(LoopService):
    name = "artifact-retention"

    def __init__(self, db: Database, store: ArtifactStore, interval: float) -> None:
        super().__init__()
        self.db = db
        self.store = store
        self.interval = interval
        self.leader = LeaderLock(db, LEADER_KEY)

    async def stop(self) -> None:
        await super().stop()
        await self.leader.release()

    async def one_pass(self) -> None:
        if await self.leader.held():
            removed = await self.run_once()
            if removed:
                log.info("artifact retention removed %d artifacts", removed)

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass over every level; the number of artifacts removed."""
        now = now or utcnow()
        removed = 0
        for level in FIELDS:
            objects = await self.store.list(f"{ROOT}/{level}")
            owners = {item.key.split("/")[2] for item in objects}
            projects, rules = await self._owners(level, owners)
            for item in objects:
                owner = item.key.split("/")[2]
                project_id = projects.get(owner)
                gone = project_id is None
                age = (now - item.modified).total_seconds()
                if gone or expired(rules.get(project_id, []), level, item.key, age):
                    await self.store.delete(item.key)
                    removed += 1
        return removed

    async def _owners(
        self, level: str, owners: Iterable[str]
    ) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
        """Owner id -> its project's id (owners that no longer exist are left out), and
        project id -> its rules for this level."""
        owners = list(owners)
        model = {"projects": Project, "workflows": Workflow, "jobs": Job}[level]
        column = Project.id if level == "projects" else model.project_id
        projects: dict[str, str] = {}
        async with self.db.session() as session:
            for start in range(0, len(owners), 500):
                chunk = owners[start : start + 500]
                rows = await session.execute(select(model.id, column).where(model.id.in_(chunk)))
                projects.update({row[0]: row[1] for row in rows if row[1]})
            policies = await session.scalars(
                select(ArtifactRetentionPolicy).where(
                    ArtifactRetentionPolicy.project_id.in_(set(projects.values()))
                )
            )
            rules = {policy.project_id: getattr(policy, COLUMNS[level]) for policy in policies}
        return projects, rules
