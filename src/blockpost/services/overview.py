"""What the web UI's lists show beyond the API's answers: each project's latest result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Pipeline, Project, Workflow

# Projects carry no default branch; these names are what teams use for one.
DEFAULT_BRANCHES = ("main", "master")


@dataclass(frozen=True, slots=True)
class Latest:
    workflow: Workflow
    pipeline: Pipeline


async def latest_on_default_branch(
    session: AsyncSession, projects: Sequence[Project]
) -> dict[str, Latest]:
    """Project id -> its newest workflow on main or master (else on any branch) and that
    workflow's initial pipeline; projects that never ran are left out."""
    found: dict[str, Latest] = {}
    preferred = case((Workflow.branch_name.in_(DEFAULT_BRANCHES), 0), else_=1)
    for project in projects:
        row = (
            await session.execute(
                select(Workflow, Pipeline)
                .join(Pipeline, Pipeline.id == Workflow.initial_ppl_id)
                .where(Workflow.project_id == project.id, Workflow.ref_type == "branch")
                .order_by(preferred, Workflow.created_at.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            found[project.id] = Latest(row[0], row[1])
    return found
