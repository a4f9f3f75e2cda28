"""What the web UI's lists show beyond the API's answers: each project's latest result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Pipeline, Project, Workflow
from blockpost.services.workflow_pages import Row

# Projects carry no default branch; these names are what teams use for one.
DEFAULT_BRANCHES = ("main", "master")


def _newest_branch_run(*where: Any) -> ScalarSelect[str]:
    """The id of the outer project's newest branch workflow matching `where`: a walk down
    ix_workflows_project_created that stops at the first match."""
    return (
        select(Workflow.id)
        .where(Workflow.project_id == Project.id, Workflow.ref_type == "branch", *where)
        .order_by(Workflow.created_at.desc())
        .limit(1)
        .correlate(Project)
        .scalar_subquery()
    )


async def latest_on_default_branch(
    session: AsyncSession, projects: Sequence[Project]
) -> dict[str, Row]:
    """Project id -> its newest workflow on main or master (else on any branch) and that
    workflow's initial pipeline; projects that never ran are left out. One statement for
    the whole page."""
    if not projects:
        return {}
    chosen = select(
        func.coalesce(
            _newest_branch_run(Workflow.branch_name.in_(DEFAULT_BRANCHES)), _newest_branch_run()
        )
    ).where(Project.id.in_([project.id for project in projects]))
    rows = await session.execute(
        select(Workflow, Pipeline)
        .join(Pipeline, Pipeline.id == Workflow.initial_ppl_id)
        .where(Workflow.id.in_(chosen))
    )
    return {workflow.project_id: Row(workflow, pipeline) for workflow, pipeline in rows}
