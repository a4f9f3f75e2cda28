"""Dashboards: named lists of widgets, shared by every user of the server.

Anyone may read them and create one; its creator or an administrator may change or
delete it. A widget's `project_id` must name a project its saver can see; a viewer's
rendering still shows only what that viewer may see.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Dashboard
from blockpost.db.paging import fetch_page
from blockpost.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from blockpost.services import projects
from blockpost.services.principal import Principal

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,254}$")  # Semaphore's dashboard names
# Semaphore's widget types and the filters each takes
WIDGET_FILTERS = {
    "list_pipelines": ("project_id", "branch", "pipeline_file"),
    "list_workflows": ("project_id", "branch", "github_uid"),
    "duration_pipelines": ("project_id", "branch", "pipeline_file"),
    "ratio_pipelines": ("project_id", "branch", "pipeline_file"),
}
MAX_WIDGETS = 100


@dataclass(frozen=True)
class SentWidget:
    name: str
    type: str
    filters: Mapping[str, str]


@dataclass(frozen=True)
class SentDashboard:
    """As a client sent it; `widgets` None when a change leaves them as they are."""

    name: str
    title: str
    widgets: Sequence[SentWidget] | None


def _check_name(name: str) -> None:
    try:
        uuid.UUID(name)
    except ValueError:
        pass
    else:
        raise InvalidInput("metadata.name", "must not be a UUID (ids are)")
    if not NAME_RE.match(name):
        raise InvalidInput(
            "metadata.name", "must be lowercase letters a-z, digits 0-9 and dashes, no spaces"
        )


def _title(name: str, title: str) -> str:
    """Semaphore's default title: the name's words, capitalised."""
    return title or " ".join(word.capitalize() for word in name.replace("-", " ").split())


async def _widgets(
    session: AsyncSession, caller: Principal, widgets: Sequence[SentWidget]
) -> list[dict[str, Any]]:
    if len(widgets) > MAX_WIDGETS:
        raise InvalidInput("spec.widgets", f"at most {MAX_WIDGETS} widgets")
    checked = []
    for index, widget in enumerate(widgets):
        where = f"spec.widgets.{index}"
        allowed = WIDGET_FILTERS.get(widget.type)
        if allowed is None:
            raise InvalidInput(f"{where}.type", f"must be one of {', '.join(WIDGET_FILTERS)}")
        filters = dict(widget.filters)
        for key in filters:
            if key not in allowed:
                raise InvalidInput(
                    f"{where}.filters.{key}",
                    f"is not a filter of {widget.type}; it takes {', '.join(allowed)}",
                )
        if filters.get("project_id"):
            try:
                project = await projects.get_project(session, caller, filters["project_id"])
            except NotFound as exc:
                raise InvalidInput(f"{where}.filters.project_id", exc.message) from None
            filters["project_id"] = project.id
        checked.append({"name": widget.name, "type": widget.type, "filters": filters})
    return checked


async def find(session: AsyncSession, id_or_name: str) -> Dashboard:
    dashboard = await session.scalar(
        select(Dashboard).where(Dashboard.name == id_or_name)
    ) or await session.get(Dashboard, id_or_name)
    if dashboard is None:
        raise NotFound(f"dashboard {id_or_name!r} not found")
    return dashboard


def _ensure_may_change(caller: Principal, dashboard: Dashboard) -> None:
    if not caller.admin and dashboard.creator_id != caller.id:
        raise PermissionDenied("only its creator or an administrator may change a dashboard")


async def _ensure_name_free(session: AsyncSession, name: str, except_id: str = "") -> None:
    clash = await session.scalar(
        select(Dashboard.id).where(Dashboard.name == name, Dashboard.id != except_id)
    )
    if clash:
        raise Conflict(f"a dashboard named {name!r} already exists")


async def list_dashboards(
    session: AsyncSession, offset: int, limit: int
) -> tuple[list[Dashboard], int]:
    """Oldest first, as Semaphore lists them."""
    query = select(Dashboard).order_by(Dashboard.created_at, Dashboard.id)
    return await fetch_page(session, query, offset, limit)


async def create(session: AsyncSession, caller: Principal, sent: SentDashboard) -> Dashboard:
    _check_name(sent.name)
    widgets = await _widgets(session, caller, sent.widgets or [])
    await _ensure_name_free(session, sent.name)
    dashboard = Dashboard(
        name=sent.name,
        title=_title(sent.name, sent.title),
        creator_id=caller.id,
        widgets=widgets,
    )
    session.add(dashboard)
    await session.flush()
    return dashboard


async def update(
    session: AsyncSession, caller: Principal, id_or_name: str, sent: SentDashboard
) -> Dashboard:
    """Changes the name, title and widgets that are sent; keeps the rest."""
    dashboard = await find(session, id_or_name)
    _ensure_may_change(caller, dashboard)
    if sent.name and sent.name != dashboard.name:
        _check_name(sent.name)
        await _ensure_name_free(session, sent.name, dashboard.id)
        dashboard.name = sent.name
    if sent.title:
        dashboard.title = sent.title
    if sent.widgets is not None:
        dashboard.widgets = await _widgets(session, caller, sent.widgets)
    await session.flush()
    return dashboard


async def delete(session: AsyncSession, caller: Principal, id_or_name: str) -> None:
    dashboard = await find(session, id_or_name)
    _ensure_may_change(caller, dashboard)
    await session.delete(dashboard)
    await session.flush()
