"""Jobs (`/api/v1alpha/jobs`) and their logs: list, create, describe, stop, plain text, events."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.api.pagination import PageDep
from blockpost.api.request_model import RequestModel
from blockpost.db.models import Job
from blockpost.dispatch import embedded, logs, queue, standalone
from blockpost.dispatch.queue import FileSpec, JobSpec
from blockpost.dispatch.wakeup import wait_any
from blockpost.errors import InvalidInput
from blockpost.services import projects
from blockpost.services.jobs import list_jobs, stoppable_job, visible_job
from blockpost.timefmt import epoch_str

router = APIRouter(tags=["jobs"])
MAX_LOG_WAIT = 25.0
STATES = {"pending": "PENDING", "queued": "QUEUED", "running": "RUNNING", "finished": "FINISHED"}
# Semaphore's Job.Status.State enum: a query may name a state or give its number.
STATE_NUMBERS = {str(number): state for number, state in enumerate(STATES)}


def _epoch(value: datetime | None) -> str:
    # Semaphore's gateway writes an unset int64 time as "0"; scripts do arithmetic on it.
    return epoch_str(value) if value is not None else "0"


def job_json(job: Job, waiting_reason: str | None = None) -> dict[str, Any]:
    spec = job.spec
    compose = spec.get("compose", {})
    return {
        "metadata": {
            "name": job.name,
            "id": job.id,
            "create_time": _epoch(job.created_at),
            "update_time": _epoch(job.updated_at),
            "start_time": _epoch(job.started_at),
            "finish_time": _epoch(job.finished_at),
        },
        "spec": {
            "project_id": job.project_id,
            "agent": {
                "machine": {"type": job.machine_type or job.agent_type, "os_image": job.os_image},
                "containers": [
                    {
                        "name": c["name"],
                        "image": c["image"],
                        "command": c["command"],
                        "env_vars": c["env_vars"],
                        "secrets": [{"name": name} for name in c["secrets"]],
                    }
                    for c in compose.get("containers", [])
                ],
                "image_pull_secrets": [
                    {"name": name} for name in compose.get("image_pull_secrets", [])
                ],
            },
            # Semaphore's: the spec's own, then the SEMAPHORE_GIT_* the job was given
            "env_vars": [
                {"name": e["name"], "value": e["value"]}
                for e in (*spec.get("env_vars", []), *spec.get("git_env_vars", []))
            ],
            "secrets": [{"name": name} for name in spec.get("secrets", [])],
            "files": [{"path": f["path"], "content": None} for f in spec.get("files", [])],
            "commands": spec.get("commands", []),
            "epilogue_always_commands": spec.get("epilogue_always_commands", []),
            "epilogue_on_pass_commands": spec.get("epilogue_on_pass_commands", []),
            "epilogue_on_fail_commands": spec.get("epilogue_on_fail_commands", []),
        },
        "status": {
            "result": (job.result or "none").upper(),
            "state": STATES.get(job.state, job.state.upper()),
            "result_reason": job.result_reason or None,
            "waiting_reason": waiting_reason,
            # "" until an agent takes the job, as Semaphore's strings are never null
            "agent": {"ip": job.agent_ip, "name": job.agent_name, "ports": []},
        },
    }


class NameValueIn(RequestModel):
    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str = Field(max_length=64 * 1024)


class FileIn(RequestModel):
    path: str = Field(min_length=1, max_length=1024)
    content: str = Field(max_length=4 * 1024 * 1024, description="base64")


class MachineIn(RequestModel):
    type: str = Field(
        default="",
        max_length=100,
        description="Blank: the server's default machine type (`sem create job` sends none).",
    )
    os_image: str = Field(default="", max_length=100)


class NamedIn(RequestModel):
    name: str = Field(default="", max_length=255)


class AgentIn(RequestModel):
    machine: MachineIn = MachineIn()
    # Standalone jobs cannot use these yet; named so that asking for them is refused, not
    # dropped as unknown (a job meant for a container must not run on the host).
    containers: list[dict[str, Any]] = []
    image_pull_secrets: list[NamedIn] = []


class JobSpecIn(RequestModel):
    project_id: str = Field(min_length=1, max_length=100)
    agent: AgentIn = AgentIn()
    secrets: list[NamedIn] = []
    env_vars: list[NameValueIn] = Field(default=[], max_length=1000)
    files: list[FileIn] = Field(default=[], max_length=100)
    commands: list[str] = Field(min_length=1, max_length=1000)
    epilogue_always_commands: list[str] = Field(default=[], max_length=1000)
    epilogue_on_pass_commands: list[str] = Field(default=[], max_length=1000)
    epilogue_on_fail_commands: list[str] = Field(default=[], max_length=1000)


class JobMetadataIn(RequestModel):
    name: str = Field(min_length=1, max_length=255)


class JobIn(RequestModel):
    metadata: JobMetadataIn
    spec: JobSpecIn


class LogEventsOut(BaseModel):
    events: list[dict[str, Any]]
    next: int
    finished: bool


def _states(given: list[str]) -> list[str]:
    if not given:
        return list(STATES)
    states = []
    for value in given:
        state = STATE_NUMBERS.get(value, value.lower())
        if state not in STATES:
            raise InvalidInput("states", f"{value!r} is not one of {', '.join(STATES.values())}")
        states.append(state)
    return states


@router.get("/api/v1alpha/jobs")
async def list_jobs_route(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
    states: Annotated[
        list[str],
        Query(max_length=10, description="PENDING, QUEUED, RUNNING, FINISHED (repeat); none: all"),
    ] = [],  # noqa: B006  (FastAPI copies a query default)
) -> dict[str, list[dict[str, Any]]]:
    """`{"jobs": [...]}` as `sem get jobs` reads it: jobs of the projects the caller can see,
    newest first, in the given states."""
    jobs, total = await list_jobs(session, caller, _states(states), page.offset, page.page_size)
    page.headers(request, response, total)
    return {"jobs": [job_json(job, await queue.waiting_reason(session, job)) for job in jobs]}


@router.post("/api/v1alpha/jobs", response_class=JSONResponse)
async def create_job(
    body: JobIn, request: Request, session: SessionDep, settings: SettingsDep, caller: CallerDep
) -> JSONResponse:
    """A standalone job (as `sem create job`): it queues for the agent type its machine names,
    or the default machine type when it names none; hosted machine types (e1-..., f1-...) go
    to the configured hosted agent type."""
    unsupported = {
        "spec.secrets": body.spec.secrets,
        "spec.agent.containers": body.spec.agent.containers,
        "spec.agent.image_pull_secrets": body.spec.agent.image_pull_secrets,
    }
    for field, given in unsupported.items():
        if given:
            raise InvalidInput(field, "is not supported for a standalone job; use a pipeline")
    project = await projects.runnable(session, caller, body.spec.project_id)
    machine = body.spec.agent.machine
    machine_type = machine.type or settings.default_machine_type
    agent_type = machine_type if machine_type.startswith("s1-") else settings.hosted_agent_type
    embedded.check(settings.embedded_policy, agent_type, caller.admin)
    files = []
    for index, item in enumerate(body.spec.files):
        try:
            content = base64.b64decode(item.content, validate=True)
        except ValueError:
            raise InvalidInput(f"spec.files.{index}.content", "is not base64") from None
        files.append(FileSpec(item.path, content))
    job = await standalone.enqueue(
        session,
        request.app.state.wakeups,
        project,
        JobSpec(
            name=body.metadata.name,
            agent_type=agent_type,
            commands=body.spec.commands,
            env_vars=[(e.name, e.value) for e in body.spec.env_vars],
            files=files,
            epilogue_always=body.spec.epilogue_always_commands,
            epilogue_on_pass=body.spec.epilogue_on_pass_commands,
            epilogue_on_fail=body.spec.epilogue_on_fail_commands,
            machine_type=machine_type,
            os_image=machine.os_image,
        ),
    )
    # Sent as built: job_json is plain JSON, FastAPI's encoder would walk it again.
    return JSONResponse(job_json(job, await queue.waiting_reason(session, job)))


@router.get("/api/v1alpha/jobs/{job_id}")
async def describe_job(job_id: str, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """Semaphore's job shape: epoch-string times, uppercase state and result; a queued job
    also says why it waits (`status.waiting_reason`)."""
    job = await visible_job(session, caller, job_id)
    return job_json(job, await queue.waiting_reason(session, job))


async def _stoppable(job_id: str, session: SessionDep, caller: CallerDep) -> Job:
    return await stoppable_job(session, caller, job_id)


@router.post("/api/v1alpha/jobs/{job_id}/stop")
async def stop_job(
    job: Annotated[Job, Depends(_stoppable)],
    request: Request,
    session: SessionDep,
    caller: CallerDep,
) -> dict[str, str]:
    """A queued job ends stopped at once; a running one is stopped by its agent (the
    project's owner, members and administrators, as for terminating its pipeline)."""
    await queue.request_stop(
        session, request.app.state.wakeups, job, f"stopped by {caller.username}"
    )
    return {}


async def _plain(job_id: str, session: SessionDep, caller: CallerDep) -> PlainTextResponse:
    job = await visible_job(session, caller, job_id)
    return PlainTextResponse(logs.plain_text(await logs.events(session, job.id)))


# Semaphore's UI serves plain_logs.txt, and plain_logs.json for older links; both here too.
for _prefix in ("", "/api/v1alpha"):
    for _suffix in ("txt", "json"):
        router.add_api_route(
            f"{_prefix}/jobs/{{job_id}}/plain_logs.{_suffix}",
            _plain,
            methods=["GET"],
            response_class=PlainTextResponse,
            summary="Plain text log",
        )


@router.get("/api/v1alpha/logs/{job_id}", response_model=LogEventsOut)
async def job_log_events(
    job_id: str,
    request: Request,
    caller: CallerDep,
    start: Annotated[int, Query(ge=0, le=10**9, description="first event index")] = 0,
    wait: Annotated[
        float, Query(ge=0, le=MAX_LOG_WAIT, description="seconds to wait for new events")
    ] = 0,
) -> LogEventsOut:
    """Events from index `start`; with `wait`, held open until new output arrives (live tail)."""
    db = request.app.state.db
    wakeups = request.app.state.wakeups
    signal = wakeups.for_log(job_id)
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        ticket = signal.ticket()
        async with db.session() as session:
            job = await visible_job(session, caller, job_id)
            events = await logs.events(session, job.id, start)
            finished = job.state == "finished"
        remaining = deadline - asyncio.get_running_loop().time()
        if events or finished or remaining <= 0 or wakeups.closing.is_set():
            return LogEventsOut(events=events, next=start + len(events), finished=finished)
        # Another replica's writes carry no local wake-up: look again at least every second.
        await wait_any([ticket, wakeups.closing], min(remaining, 1.0))
