"""Secrets (`/api/v1beta/secrets`, and per project under `/api/v1beta/projects/{project}`)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import AdminDep, CallerDep, SealerDep, SessionDep
from blockpost.crypto import Sealer
from blockpost.db.models import Project, Secret
from blockpost.services import projects, secrets
from blockpost.services.principal import Principal
from blockpost.services.secrets import SecretData
from blockpost.timefmt import epoch_str

router = APIRouter(tags=["secrets"])
GLOBAL = "/api/v1beta/secrets"
PROJECT = "/api/v1beta/projects/{project}/secrets"


async def _runnable(project: str, session: SessionDep, caller: CallerDep) -> Project:
    return await projects.runnable(session, caller, project)


# A project's secrets are its runners' (owner, members, administrators), reading included.
RunnableProject = Annotated[Project, Depends(_runnable)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvVarIn(_In):
    name: str = Field(default="", max_length=255)
    value: str = Field(max_length=64 * 1024)


class FileIn(_In):
    path: str = Field(min_length=1, max_length=1024)
    content: str = Field(max_length=4 * 1024 * 1024, description="base64")


class DataIn(_In):
    env_vars: list[EnvVarIn] = Field(default=[], max_length=1000)
    files: list[FileIn] = Field(default=[], max_length=100)


class MetadataIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # id, create_time... as `sem get` prints them

    name: str = Field(default="", max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


class SecretIn(_In):
    apiVersion: str | None = None  # noqa: N815  (the sem CLI sends it)
    kind: str | None = None
    metadata: MetadataIn = MetadataIn()
    data: DataIn = DataIn()
    org_config: dict[str, Any] | None = None
    project_config: dict[str, Any] | None = None

    def sent(self) -> secrets.SentSecret:
        """Checked by the service, after it knows the caller may touch the scope."""
        return secrets.SentSecret(
            self.metadata.name,
            [(e.name, e.value) for e in self.data.env_vars],
            [(f.path, f.content) for f in self.data.files],
            self.metadata.description,
        )


def _out(secret: Secret, data: secrets.SecretData, *, values: bool) -> dict[str, Any]:
    """With `values`, env var values and file contents (base64); without, names and paths."""
    return {
        "apiVersion": "v1beta",
        "kind": "ProjectSecret" if secret.project_id else "Secret",
        "metadata": {
            "name": secret.name,
            "id": secret.id,
            "description": secret.description,
            "create_time": epoch_str(secret.created_at),
            "update_time": epoch_str(secret.updated_at),
        },
        "data": {
            "env_vars": [
                {"name": name, "value": value} if values else {"name": name}
                for name, value in data.env_vars
            ],
            "files": [
                {"path": path, "content": base64.b64encode(content).decode()}
                if values
                else {"path": path}
                for path, content in data.files
            ],
        },
    }


class Scoped:
    """The five operations, for global secrets (project None) or one project's."""

    @staticmethod
    async def list(
        sealer: Sealer, session: AsyncSession, project: Project | None
    ) -> dict[str, Any]:
        rows = await secrets.list_secrets(session, project)
        items = [_out(row, SecretData.unseal(sealer, row.sealed), values=False) for row in rows]
        return {"secrets": items, "next_page_token": ""}

    @staticmethod
    async def describe(
        sealer: Sealer, session: AsyncSession, project: Project | None, name: str
    ) -> dict[str, Any]:
        secret = await secrets.get_secret(session, project, name)
        return _out(secret, SecretData.unseal(sealer, secret.sealed), values=True)

    @staticmethod
    async def create(
        sealer: Sealer,
        session: AsyncSession,
        caller: Principal,
        project: Project | None,
        body: SecretIn,
    ) -> dict[str, Any]:
        secret, data = await secrets.create_secret(session, sealer, caller, project, body.sent())
        return _out(secret, data, values=True)

    @staticmethod
    async def update(
        sealer: Sealer,
        session: AsyncSession,
        caller: Principal,
        project: Project | None,
        name: str,
        body: SecretIn,
    ) -> dict[str, Any]:
        secret, data = await secrets.update_secret(
            session, sealer, caller, project, name, body.sent()
        )
        return _out(secret, data, values=True)


@router.get(GLOBAL)
async def list_global(sealer: SealerDep, session: SessionDep, _caller: CallerDep) -> dict[str, Any]:
    """Global secrets: names, env var names and file paths, never values."""
    return await Scoped.list(sealer, session, None)


@router.post(GLOBAL)
async def create_global(
    body: SecretIn, sealer: SealerDep, session: SessionDep, caller: AdminDep
) -> dict[str, Any]:
    """A global secret, usable by every project (administrators only)."""
    return await Scoped.create(sealer, session, caller, None, body)


@router.get(GLOBAL + "/{name}")
async def describe_global(
    name: str, sealer: SealerDep, session: SessionDep, _admin: AdminDep
) -> dict[str, Any]:
    """With values (administrators only); `name` is the secret's name or id."""
    return await Scoped.describe(sealer, session, None, name)


@router.put(GLOBAL + "/{name}")
async def update_global(
    name: str, body: SecretIn, sealer: SealerDep, session: SessionDep, caller: AdminDep
) -> dict[str, Any]:
    """Replaces the secret's name, env vars and files (administrators only)."""
    return await Scoped.update(sealer, session, caller, None, name, body)


@router.delete(GLOBAL + "/{name}")
async def delete_global(name: str, session: SessionDep, caller: AdminDep) -> dict[str, str]:
    """Administrators only."""
    await secrets.delete_secret(session, caller, None, name)
    return {}


@router.get(PROJECT)
async def list_project(
    project: RunnableProject, sealer: SealerDep, session: SessionDep
) -> dict[str, Any]:
    """The project's secrets (owner, members, administrators): never values."""
    return await Scoped.list(sealer, session, project)


@router.post(PROJECT)
async def create_project(
    project: RunnableProject,
    body: SecretIn,
    sealer: SealerDep,
    session: SessionDep,
    caller: CallerDep,
) -> dict[str, Any]:
    """A secret only this project's pipelines can use; it wins over a global one of its name."""
    return await Scoped.create(sealer, session, caller, project, body)


@router.get(PROJECT + "/{name}")
async def describe_project(
    project: RunnableProject, name: str, sealer: SealerDep, session: SessionDep
) -> dict[str, Any]:
    return await Scoped.describe(sealer, session, project, name)


@router.put(PROJECT + "/{name}")
async def update_project(
    project: RunnableProject,
    name: str,
    body: SecretIn,
    sealer: SealerDep,
    session: SessionDep,
    caller: CallerDep,
) -> dict[str, Any]:
    return await Scoped.update(sealer, session, caller, project, name, body)


@router.delete(PROJECT + "/{name}")
async def delete_project(
    project: RunnableProject, name: str, session: SessionDep, caller: CallerDep
) -> dict[str, str]:
    await secrets.delete_secret(session, caller, project, name)
    return {}
