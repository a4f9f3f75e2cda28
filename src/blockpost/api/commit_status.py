"""A project's commit status deliveries (`/api/v1alpha/projects/{project}/status_deliveries`,
blockpost's own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.api.pagination import PageDep
from blockpost.commit_status import log
from blockpost.db.models import NotificationDelivery
from blockpost.services import projects
from blockpost.timefmt import iso_seconds

router = APIRouter(prefix="/api/v1alpha/projects", tags=["projects"])


def _out(delivery: NotificationDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "pipeline_id": delivery.pipeline_id,
        "context": delivery.context,
        "status": delivery.status,
        "endpoint": delivery.endpoint or None,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "max_attempts": delivery.max_attempts,
        "status_code": delivery.status_code,
        "error": delivery.error or None,
        "created_at": iso_seconds(delivery.created_at),
        "next_attempt_at": (
            iso_seconds(delivery.next_attempt_at) if delivery.state == "pending" else None
        ),
        "finished_at": iso_seconds(delivery.finished_at),
    }


@router.get("/{project}/status_deliveries")
async def list_status_deliveries(
    project: str,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
) -> dict[str, Any]:
    """The commit statuses posted for the project's pipelines, newest first: context,
    status (pending, success, failure, error), endpoint (once tried), delivery state
    (pending, delivered, failed, superseded), attempts, last status code and error."""
    found = await projects.get_project(session, caller, project)
    rows, total = await log.deliveries(session, found, page.offset, page.page_size)
    page.headers(request, response, total)
    return {"deliveries": [_out(row) for row in rows]}
