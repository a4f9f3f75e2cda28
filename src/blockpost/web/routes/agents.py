"""Agent types with their agents; create a type (its registration token shown once), reset
its token, disable its agents, delete it."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from blockpost.api.deps import AdminDep, CallerDep, SessionDep
from blockpost.db.models import Agent
from blockpost.dispatch import agent_types, registry
from blockpost.dispatch.agent_types import AgentTypeView
from blockpost.errors import Conflict, InvalidInput
from blockpost.services import jobs
from blockpost.services.principal import Principal
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE = "/ui/agents"
# One page holds the agents of every type; a fleet beyond this is the API's to page through.
MAX_AGENTS = 1000


async def _agents_page(
    request: Request,
    session: SessionDep,
    caller: Principal,
    error: str = "",
    name: str = "",
    status: int = 200,
) -> Response:
    types = await agent_types.list_types(session)
    agents, more = await registry.list_agents(session, None, MAX_AGENTS, None)
    by_type: dict[int, list[Agent]] = defaultdict(list)
    for agent in agents:
        by_type[agent.agent_type_id].append(agent)
    context = {
        "types": types,
        "agents_of": by_type,
        "more": bool(more),
        "state_of": registry.agent_state,
        # an agent's job is shown to those who may see the job's project
        "shown_jobs": await jobs.visible_job_ids(
            session, caller, [agent.job_id for agent in agents if agent.job_id]
        ),
        "error": error,
        "name": name,
    }
    return page(request, "agents.html", context, status)


def _token_page(request: Request, view: AgentTypeView, reset: bool) -> Response:
    """The registration token exists only in this answer (stored as a hash)."""
    context = {"view": view, "reset": reset, "server": str(request.base_url).rstrip("/")}
    return page(request, "agent_type_token.html", context, 200 if reset else 201)


@router.get("/agents")
async def agent_list(request: Request, session: SessionDep, caller: CallerDep) -> Response:
    return await _agents_page(request, session, caller)


@router.post("/agent_types")
async def create_agent_type(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    form = await posted(request)
    name = form.get("name").strip()
    try:
        view = await agent_types.create(session, name)
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return await _agents_page(request, session, admin, exc.message, name, status)
    return _token_page(request, view, reset=False)


@router.post("/agent_types/{name}/reset_token")
async def reset_token(
    name: str, request: Request, session: SessionDep, _admin: AdminDep
) -> Response:
    return _token_page(request, await agent_types.reset_token(session, name), reset=True)


@router.post("/agent_types/{name}/disable")
async def disable_agents(
    name: str, request: Request, session: SessionDep, _admin: AdminDep
) -> Response:
    form = await posted(request)
    only_idle = form.get("only_idle", "true") != "false"
    await agent_types.disable_all(session, request.app.state.wakeups, name, only_idle=only_idle)
    return RedirectResponse(PAGE, status_code=303)


@router.post("/agent_types/{name}/delete")
async def delete_agent_type(name: str, session: SessionDep, _admin: AdminDep) -> Response:
    await agent_types.delete(session, name)
    return RedirectResponse(PAGE, status_code=303)
