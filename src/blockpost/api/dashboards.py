"""Dashboards (`/api/v1alpha/dashboards`): stored and listed in Semaphore's shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from blockpost.api.deps import CallerDep, SessionDep
from blockpost.api.pagination import PageDep
from blockpost.api.request_model import RequestModel
from blockpost.db.models import Dashboard
from blockpost.services import dashboards
from blockpost.services.dashboards import SentDashboard, SentWidget
from blockpost.timefmt import epoch_str

router = APIRouter(prefix="/api/v1alpha/dashboards", tags=["dashboards"])


class WidgetIn(RequestModel):
    name: str = Field(default="", max_length=255)
    type: str = Field(default="", max_length=64)
    filters: Annotated[dict[str, Annotated[str, Field(max_length=1024)]], Field(max_length=10)] = {}


class SpecIn(RequestModel):
    widgets: list[WidgetIn] | None = None


class MetadataIn(RequestModel):
    name: str = Field(default="", max_length=255)
    title: str = Field(default="", max_length=255)


class DashboardIn(RequestModel):
    """As `sem create -f`, `sem apply -f` and `sem edit dashboard` send it."""

    metadata: MetadataIn = MetadataIn()
    spec: SpecIn = SpecIn()

    def sent(self) -> SentDashboard:
        widgets = self.spec.widgets
        return SentDashboard(
            self.metadata.name,
            self.metadata.title,
            None if widgets is None else [SentWidget(w.name, w.type, w.filters) for w in widgets],
        )


def _out(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "apiVersion": "v1alpha",
        "kind": "Dashboard",
        "metadata": {
            "name": dashboard.name,
            "title": dashboard.title,
            "id": dashboard.id,
            "create_time": epoch_str(dashboard.created_at),
            "update_time": epoch_str(dashboard.updated_at),
        },
        "spec": {"widgets": dashboard.widgets},
    }


@router.get("")
async def list_dashboards(
    request: Request, response: Response, session: SessionDep, _caller: CallerDep, page: PageDep
) -> dict[str, Any]:
    """Every dashboard, oldest first."""
    rows, total = await dashboards.list_dashboards(session, page.offset, page.page_size)
    page.headers(request, response, total)
    more = page.page * page.page_size < total
    return {
        "dashboards": [_out(row) for row in rows],
        "next_page_token": str(page.page + 1) if more else "",
    }


@router.post("")
async def create_dashboard(
    body: DashboardIn, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    return _out(await dashboards.create(session, caller, body.sent()))


@router.get("/{id_or_name}")
async def describe_dashboard(
    id_or_name: str, session: SessionDep, _caller: CallerDep
) -> dict[str, Any]:
    return _out(await dashboards.find(session, id_or_name))


async def _update(
    id_or_name: str, body: DashboardIn, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """Its creator or an administrator: the name, title and widgets sent replace theirs."""
    return _out(await dashboards.update(session, caller, id_or_name, body.sent()))


router.patch("/{id_or_name}", name="update_dashboard")(_update)
router.put("/{id_or_name}", name="replace_dashboard")(_update)


@router.delete("/{id_or_name}")
async def delete_dashboard(
    id_or_name: str, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """Its creator or an administrator."""
    await dashboards.delete(session, caller, id_or_name)
    return {}
