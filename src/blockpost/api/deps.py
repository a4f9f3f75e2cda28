"""Dependencies every router shares: the request's session, the caller, the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.config import Settings
from blockpost.crypto import Sealer
from blockpost.engine.context import EngineContext
from blockpost.services.principal import Principal, require_admin

# Documents the header in OpenAPI (Swagger's Authorize button); AuthMiddleware checks it.
_token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="api_token",
    description="`Token <api token>` or `Bearer <api token>`",
    auto_error=False,
)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


# async (though they await nothing): FastAPI runs plain-def dependencies in a thread pool.
async def _caller(request: Request, _header: str | None = Security(_token_header)) -> Principal:
    principal: Principal = request.state.principal
    return principal


# A route that needs a right beyond seeing a resource checks it in a dependency: FastAPI
# solves dependencies before it validates the query and the body, so a caller without the
# right gets 403 (or 404), never a 400 describing what the route accepts.
async def _admin(caller: Annotated[Principal, Depends(_caller)]) -> Principal:
    require_admin(caller)
    return caller


async def _engine(request: Request) -> EngineContext:
    engine: EngineContext = request.app.state.engine
    return engine


async def _sealer(request: Request) -> Sealer:
    sealer: Sealer = request.app.state.sealer
    return sealer


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": commit before the response is sent, so a 2xx always means stored.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
CallerDep = Annotated[Principal, Depends(_caller)]
AdminDep = Annotated[Principal, Depends(_admin)]
SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[EngineContext, Depends(_engine)]
SealerDep = Annotated[Sealer, Depends(_sealer)]
