"""create_app(settings): the FastAPI application with its middleware, routers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from blockpost import __version__
from blockpost.api import (
    agent_protocol,
    agent_types,
    agents,
    artifacts,
    audit,
    auth,
    cache,
    commit_status,
    dashboards,
    deploy_keys,
    deployment_targets,
    hooks,
    jobs,
    meta,
    notifications,
    periodic_tasks,
    pipelines,
    projects,
    promotions,
    schedules,
    secrets,
    snapshots,
    tasks,
    test_results,
    tokens,
    troubleshoot,
    users,
    workflows,
    yaml,
)
from blockpost.api.errors import install_error_handlers
from blockpost.api.middleware import AuthMiddleware, BodyMiddleware, PrincipalCache
from blockpost.api.openapi import install_openapi
from blockpost.artifacts.factory import open_store
from blockpost.artifacts.retention import Retention
from blockpost.cache.cleanup import CacheCleanup
from blockpost.commit_status.forges import ApiRoots
from blockpost.config import Settings
from blockpost.db.engine import Database, asyncpg_dsn
from blockpost.dispatch.reaper import Reaper
from blockpost.dispatch.wakeup import PostgresListener, Signal, Wakeups
from blockpost.engine.context import EngineContext
from blockpost.engine.service import Engine
from blockpost.hooks.poller import Poller
from blockpost.hooks.starter import Starter
from blockpost.metrics import Metrics
from blockpost.notify.sender import Notifier, SenderOptions
from blockpost.scheduler.service import Scheduler
from blockpost.services.login_limit import LoginLimiter
from blockpost.web import routes as web_routes

DESCRIPTION = """\
A self-hosted CI/CD server that speaks the Semaphore 2.0 public API.

Authenticate with `Authorization: Token <api token>` or `Authorization: Bearer <api token>`.
Create a token with `POST /api/user/tokens` after `POST /api/auth/login`, or with
`blockpost token create USER`. Request bodies are accepted as JSON or as form data
(`curl -d key=value`; nested keys as `metadata.name=x`).
"""


def create_app(settings: Settings, *, loops: bool = True) -> FastAPI:
    """`loops=False`: an HTTP worker of `serve --workers N` that runs none of the background
    loops (another process of the server does); it still hears wake-ups through LISTEN."""
    if not settings.secret_key:
        settings.prepare_data_dir()
    db = Database(settings.effective_database_url)
    wakeups = Wakeups()
    engine_ctx = EngineContext.from_settings(settings, db, wakeups)
    notifier_options = SenderOptions(
        server_url=settings.effective_public_url,
        organization="blockpost",
        organization_id=settings.organization_id,
        allow_private=settings.allow_private_notification_endpoints,
        forge_roots=ApiRoots(
            github=settings.github_api_url,
            gitlab=settings.gitlab_api_url,
            gitea=settings.gitea_api_url,
            bitbucket=settings.bitbucket_api_url,
        ),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        listener = None
        if db.dialect == "postgresql":
            dsn = asyncpg_dsn(db.url)
            listener = PostgresListener(lambda: asyncpg.connect(dsn), wakeups)
            listener.start()
        services = (
            [
                Reaper(db, wakeups, settings.agent_lease_seconds),
                Engine(engine_ctx, settings.engine_tick_seconds),
                Scheduler(engine_ctx, metrics=app.state.metrics),
                Notifier(db, engine_ctx.sealer, notifier_options),
                *app.state.services,
            ]
            if loops
            else []
        )
        for service in services:
            service.start()
        yield
        for service in reversed(services):
            await service.stop()
        if listener:
            await listener.stop()
        await db.dispose()

    app = FastAPI(
        title="blockpost",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # /metrics is ours; FastAPI's OpenTelemetry hooks cost ~3% of a sync when unused.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = db
    app.state.wakeups = wakeups
    app.state.engine = engine_ctx
    app.state.metrics = Metrics()
    app.state.login_limiter = LoginLimiter()
    app.state.sealer = engine_ctx.sealer
    # More loop services for this process alone (`serve` adds the embedded agents' supervisor).
    app.state.services = []
    app.state.artifact_store = open_store(settings)
    app.state.services.append(
        Retention(db, app.state.artifact_store, settings.artifact_retention_interval_seconds)
    )
    app.state.services.append(
        CacheCleanup(
            db,
            app.state.artifact_store,
            settings.artifact_retention_interval_seconds,
            settings.artifact_url_seconds,
        )
    )
    # webhook deliveries and polled pushes are started by one loop, woken when one arrives
    app.state.hook_signal = Signal()
    app.state.services.append(Starter(engine_ctx, app.state.hook_signal))
    app.state.services.append(
        Poller(engine_ctx, settings.poll_interval_seconds, app.state.hook_signal)
    )
    install_error_handlers(app)
    # Starlette runs the last-added middleware first: authenticate, then read the body.
    app.add_middleware(
        BodyMiddleware,
        max_bytes=settings.max_body_bytes,
        snapshot_max_bytes=settings.snapshot_max_bytes,
    )
    app.state.principals = PrincipalCache()
    app.add_middleware(AuthMiddleware, db=db, principals=app.state.principals)
    # Routes are matched in order: the ones agents and polling scripts hit go first.
    for module in (
        agent_protocol,
        pipelines,
        jobs,
        workflows,
        meta,
        auth,
        users,
        tokens,
        projects,
        deploy_keys,
        commit_status,
        yaml,
        agent_types,
        agents,
        secrets,
        schedules,
        periodic_tasks,
        tasks,
        promotions,
        deployment_targets,
        audit,
        snapshots,
        notifications,
        dashboards,
        troubleshoot,
        artifacts,
        cache,
        test_results,
        hooks,
    ):
        app.include_router(module.router)
    web_routes.install(app)
    meta.mount_swagger_assets(app)
    install_openapi(app)
    return app
