"""The self-hosted agent protocol (`/api/v1/self_hosted_agents`) and log push (`/api/v1/logs`),
wire-compatible with Semaphore's official agent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from blockpost.api.deps import SessionDep, SettingsDep
from blockpost.api.middleware import LOG_PUSH
from blockpost.artifacts import tokens as artifact_tokens
from blockpost.db.engine import after_commit
from blockpost.db.models import Agent, AgentType
from blockpost.dispatch import agent_types, logs, payload, queue, registry, sync
from blockpost.errors import NotFound
from blockpost.metrics import Metrics
from blockpost.security import new_token, token_hash
from blockpost.timefmt import EPOCH_MAX

router = APIRouter(tags=["agent protocol"])
BASE = "/api/v1/self_hosted_agents"


class RegisterIn(BaseModel):
    # Newer agents may send fields we do not know: ignore them rather than refuse the agent.
    model_config = ConfigDict(extra="ignore")

    name: str = Field(default="", max_length=80)
    version: str = Field(default="", max_length=200)
    pid: int = Field(default=0, ge=0, le=2**31 - 1)
    os: str = Field(default="", max_length=500)
    arch: str = Field(default="", max_length=200)
    hostname: str = Field(default="", max_length=500)
    single_job: bool = False
    idle_timeout: int = Field(default=0, ge=0, le=2**31 - 1)
    interruption_grace_period: int = Field(default=0, ge=0, le=2**31 - 1)
    job_id: str = Field(default="", max_length=64)
    # blockpost's agent says whether it can run container jobs; Semaphore's says nothing.
    containers: bool = True


class RegisterOut(BaseModel):
    name: str
    token: str


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: str = Field(max_length=40)
    job_id: str = Field(default="", max_length=64)
    job_result: str = Field(default="", max_length=20)
    interrupted_at: int = Field(default=0, ge=0, le=EPOCH_MAX)
    # blockpost's agent says why a job failed when the reason is its own (no engine).
    job_result_reason: str = Field(default="", max_length=255)


class SyncOut(BaseModel):
    action: str
    job_id: str
    shutdown_reason: str
    next_sync_after: int


class TokenOut(BaseModel):
    token: str


async def _agent(request: Request, session: SessionDep) -> Agent:
    agent = await session.get(Agent, request.state.agent_id)
    if (
        agent is None
        or agent.state != "registered"
        or agent.token_hash != request.state.agent_token_hash
    ):
        raise NotFound(registry.AGENT_GONE)
    return agent


@router.post(f"{BASE}/register", response_model=RegisterOut, status_code=201)
async def register(body: RegisterIn, request: Request, session: SessionDep) -> RegisterOut:
    """Authenticated with the agent type's registration token; returns the agent's own token."""
    agent_type = await session.get(AgentType, request.state.agent_type_id)
    if agent_type is None:
        raise NotFound("agent type not found")
    agent, secret = await registry.register(
        session,
        request.app.state.wakeups,
        agent_type,
        registry.Registration(**body.model_dump()),
        ip_address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )
    return RegisterOut(name=agent.name, token=secret)


class JobCounts(BaseModel):
    queued: int
    running: int


class AgentCounts(BaseModel):
    idle: int
    occupied: int


class MetricsOut(BaseModel):
    jobs: JobCounts
    agents: AgentCounts


async def _occupancy(request: Request, session: SessionDep) -> agent_types.Occupancy:
    agent_type = await session.get(AgentType, request.state.agent_type_id)
    if agent_type is None:
        raise NotFound("agent type not found")
    return await agent_types.occupancy(session, agent_type)


@router.get(f"{BASE}/metrics", response_model=MetricsOut)
async def metrics(
    occupancy: Annotated[agent_types.Occupancy, Depends(_occupancy)],
) -> MetricsOut:
    """Jobs and agents of the type whose registration token is given, for autoscalers
    (Semaphore's agent-aws-stack sums `jobs`; its k8s metrics adapter reads all four)."""
    return MetricsOut(
        jobs=JobCounts(queued=occupancy.queued, running=occupancy.running),
        agents=AgentCounts(idle=occupancy.idle, occupied=occupancy.occupied),
    )


@router.get(f"{BASE}/occupancy", response_model=JobCounts)
async def occupancy_counts(
    occupancy: Annotated[agent_types.Occupancy, Depends(_occupancy)],
) -> JobCounts:
    """The older form of `metrics` that early autoscalers call: job counts by state."""
    return JobCounts(queued=occupancy.queued, running=occupancy.running)


@router.post(f"{BASE}/sync", response_model=SyncOut, response_class=JSONResponse)
async def agent_sync(body: SyncIn, request: Request, settings: SettingsDep) -> JSONResponse:
    """The agent reports its state; the answer says what to do. Idle syncs are held open.
    The answer is sent as built (SyncOut documents it): most requests are these."""
    answer = await sync.sync(
        request.app.state.db,
        request.app.state.wakeups,
        request.state.agent_id,
        request.state.agent_token_hash,
        request.state.agent_type,
        sync.SyncRequest(**body.model_dump()),
        hold=settings.sync_hold_seconds,
    )
    metrics: Metrics = request.app.state.metrics
    metrics.syncs.labels(body.state).inc()
    if answer.pickup_seconds is not None:
        metrics.pickup.observe(answer.pickup_seconds)
    return JSONResponse(answer.as_json())


@router.get(f"{BASE}/jobs/{{job_id}}", response_class=JSONResponse)
async def get_job(
    job_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """The payload of a job assigned to the calling agent (404 for any other job), sent as
    built (no pass through FastAPI's encoder: it is plain JSON already)."""
    token = new_token()
    state = request.state
    job = await queue.take_assigned(
        session, state.agent_id, state.agent_token_hash, job_id, token_hash(token)
    )
    if job is None:  # the slower look says why: agent gone, another's job, not running
        job = await queue.assigned_job(session, await _agent(request, session), job_id)
        token = await payload.issue_log_token(session, job)
    log_url = str(request.base_url).rstrip("/") + LOG_PUSH + job.id
    return JSONResponse(
        payload.job_request(
            job,
            log_url=log_url,
            log_token=token,
            log_max_bytes=settings.log_max_bytes,
            sealer=request.app.state.sealer,
            organization_url=str(request.base_url).rstrip("/"),
            artifact_token=artifact_tokens.token_for(settings.secret_key, job.id),
            repository=await payload.repository_access(
                session, job, request.app.state.engine.mirrors
            ),
        )
    )


@router.post(f"{BASE}/refresh", response_model=TokenOut)
async def refresh(request: Request, session: SessionDep) -> TokenOut:
    """A new log token for the agent's current job."""
    agent = await _agent(request, session)
    if agent.job_id is None:
        raise NotFound("no job is assigned to this agent")
    job = await queue.assigned_job(session, agent, agent.job_id)
    return TokenOut(token=await payload.issue_log_token(session, job))


@router.post(f"{BASE}/disconnect", response_class=Response)
async def disconnect(request: Request, session: SessionDep) -> Response:
    agent = await _agent(request, session)
    await registry.disconnect(session, request.app.state.wakeups, agent)
    return Response("disconnected", media_type="text/plain")


@router.post(f"{LOG_PUSH}{{job_id}}", response_class=Response)
async def push_logs(
    job_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start_from: Annotated[int, Query(ge=0, le=10**9)],
) -> Response:
    """JSON event lines from `start_from`; resending a batch replaces it (no duplicates)."""
    raw = await request.body()
    lines = logs.parse_lines(raw.decode("utf-8", "replace"))
    job = await queue.get_job(session, job_id)
    lines = logs.mask_secrets(lines, payload.secret_values(job, request.app.state.sealer))
    await logs.push(session, job, start_from, lines, settings.log_max_bytes)
    wakeups = request.app.state.wakeups
    after_commit(session, lambda: wakeups.log_written(job_id))
    metrics: Metrics = request.app.state.metrics
    metrics.log_pushes.inc()
    metrics.log_bytes.inc(len(raw))
    return Response(status_code=200)
