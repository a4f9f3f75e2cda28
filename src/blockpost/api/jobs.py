"""Jobs (`/api/v1alpha/jobs`) and their logs: describe, stop, plain text, events (live)."""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.db.models import Job
from blockpost.dispatch import embedded, logs, queue, standalone
from blockpost.dispatch.queue import FileSpec, JobSpec
from blockpost.dispatch.wakeup import wait_any
from blockpost.errors import InvalidInput
from blockpost.services import projects
from blockpost.services.jobs import stoppable_job, visible_job
from blockpost.timefmt import epoch_str

router = APIRouter(tags=["jobs"])
MAX_LOG_WAIT = 25.0
STATES = {"pending": "PENDING", "queued": "QUEUED", "running": "RUNNING", "finished": "FINISHED"}


def job_json(job: Job, waiting_reason: str | None = None) -> dict[str, Any]:
    spec = job.spec
    compose = spec.get("compose", {})
    return {
        "metadata": {
            "name": job.name,
            "id": job.id,
            "create_time": epoch_str(job.created_at),
            "update_time": epoch_str(job.updated_at),
            "start_time": epoch_str(job.started_at),
            "finish_time": epoch_str(job.finished_at),
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
            "agent": {"ip": job.agent_ip or None, "name": job.agent_name or None, "ports": []},
        },
    }


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameValueIn(_In):
    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str = Field(max_length=64 * 1024)


class FileIn(_In):
    path: str = Field(min_length=1, max_length=1024)
    content: str = Field(max_length=4 * 1024 * 1024, description="base64")


class MachineIn(_In):
    type: str = Field(min_length=1, max_length=100)
    os_image: str = Field(default="", max_length=100)


class AgentIn(_In):
    machine: MachineIn


class JobSpecIn(_In):
    project_id: str = Field(min_length=1, max_length=100)
    agent: AgentIn
    env_vars: list[NameValueIn] = Field(default=[], max_length=1000)
    files: list[FileIn] = Field(default=[], max_length=100)
    commands: list[str] = Field(min_length=1, max_length=1000)
    epilogue_always_commands: list[str] = Field(default=[], max_length=1000)
    epilogue_on_pass_commands: list[str] = Field(default=[], max_length=1000)
    epilogue_on_fail_commands: list[str] = Field(default=[], max_length=1000)


class JobMetadataIn(_In):
    name: str = Field(min_length=1, max_length=255)


class JobIn(_In):
    apiVersion: str | None = None  # noqa: N815  (the sem CLI sends it)
    kind: str | None = None
    metadata: JobMetadataIn
    spec: JobSpecIn


class LogEventsOut(BaseModel):
    events: list[dict[str, Any]]
    next: int
    finished: bool


@router.post("/api/v1alpha/jobs")
async def create_job(
    body: JobIn, request: Request, session: SessionDep, settings: SettingsDep, caller: CallerDep
) -> dict[str, Any]:
    """A standalone job (as `sem create job`): it queues for the agent type its machine names;
    hosted machine types (e1-..., f1-...) go to the configured hosted agent type."""
    project = await projects.runnable(session, caller, body.spec.project_id)
    machine = body.spec.agent.machine
    agent_type = machine.type if machine.type.startswith("s1-") else settings.hosted_agent_type
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
            machine_type=machine.type,
            os_image=machine.os_image,
        ),
    )
    return job_json(job, await queue.waiting_reason(session, job))


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


router.add_api_route(
    "/jobs/{job_id}/plain_logs.json",
    _plain,
    methods=["GET"],
    response_class=PlainTextResponse,
    summary="Plain text log (Semaphore's UI path)",
)
router.add_api_route(
    "/api/v1alpha/jobs/{job_id}/plain_logs.json",
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
