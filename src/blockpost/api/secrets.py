"""Secrets (`/api/v1beta/secrets`) and a project's (`/api/v1/projects/{project}/secrets`)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.api.deps import AdminDep, CallerDep, SealerDep, SessionDep
from blockpost.api.request_model import RequestModel
from blockpost.crypto import Sealer
from blockpost.db.models import Project, Secret
from blockpost.services import projects, secrets
from blockpost.services.principal import Principal
from blockpost.services.secrets import SecretData
from blockpost.timefmt import epoch_str

router = APIRouter(tags=["secrets"])
GLOBAL = "/api/v1beta/secrets"
PROJECT = "/api/v1/projects/{project}/secrets"  # Semaphore's, where `sem -p` goes
PROJECT_V1BETA = "/api/v1beta/projects/{project}/secrets"  # blockpost's first path, kept


async def _runnable(project: str, session: SessionDep, caller: CallerDep) -> Project:
    return await projects.runnable(session, caller, project)


# A project's secrets are its runners' (owner, members, administrators), reading included.
RunnableProject = Annotated[Project, Depends(_runnable)]


class EnvVarIn(RequestModel):
    name: str = Field(default="", max_length=255)
    value: str | None = Field(default=None, max_length=64 * 1024)


class FileIn(RequestModel):
    path: str = Field(default="", max_length=1024)
    content: str | None = Field(default=None, max_length=4 * 1024 * 1024, description="base64")


class DataIn(RequestModel):
    env_vars: list[EnvVarIn] | None = Field(default=None, max_length=1000)
    files: list[FileIn] | None = Field(default=None, max_length=100)

    # `null` is an empty list (the sem CLI sends Go's nil slices so); a list not sent at all
    # is left as it is by an update.
    def sent_env_vars(self) -> list[tuple[str, str]] | None:
        if "env_vars" not in self.model_fields_set:
            return None
        return [(e.name, e.value or "") for e in self.env_vars or []]

    def sent_files(self) -> list[tuple[str, str]] | None:
        if "files" not in self.model_fields_set:
            return None
        return [(f.path, f.content or "") for f in self.files or []]


class MetadataIn(RequestModel):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


class SecretIn(RequestModel):
    """Semaphore's Secret; `id`, times, `content_included`, `org_config`... are ignored."""

    metadata: MetadataIn = MetadataIn()
    data: DataIn = DataIn()

    def sent(self) -> secrets.SentSecret:
        """Checked by the service, after it knows the caller may touch the scope."""
        return secrets.SentSecret(
            self.metadata.name,
            self.data.sent_env_vars(),
            self.data.sent_files(),
            self.metadata.description,
        )


def _out(secret: Secret, data: secrets.SecretData, *, values: bool) -> dict[str, Any]:
    """With `values`, env var values and file contents (base64); without, names and paths.

    `content_included` says which: the sem CLI edits and applies a secret shown with its
    values by PATCH, and one without by deleting it and creating it again.
    """
    metadata: dict[str, Any] = {
        "name": secret.name,
        "id": secret.id,
        "description": secret.description,
        "create_time": epoch_str(secret.created_at),
        "update_time": epoch_str(secret.updated_at),
        "content_included": values,
    }
    if secret.project_id:
        metadata["project_id_or_name"] = secret.project_id  # `sem apply` reads the project here
    return {
        "apiVersion": "v1" if secret.project_id else "v1beta",
        "kind": "ProjectSecret" if secret.project_id else "Secret",
        "metadata": metadata,
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


@router.patch(GLOBAL + "/{name}")
@router.put(GLOBAL + "/{name}")
async def update_global(
    name: str, body: SecretIn, sealer: SealerDep, session: SessionDep, caller: AdminDep
) -> dict[str, Any]:
    """Changes the name, env vars or files sent (administrators only); a blank value keeps
    the stored one of its name."""
    return await Scoped.update(sealer, session, caller, None, name, body)


@router.delete(GLOBAL + "/{name}")
async def delete_global(name: str, session: SessionDep, caller: AdminDep) -> dict[str, str]:
    """Administrators only."""
    await secrets.delete_secret(session, caller, None, name)
    return {}


@router.get(PROJECT)
@router.get(PROJECT_V1BETA)
async def list_project(
    project: RunnableProject, sealer: SealerDep, session: SessionDep
) -> dict[str, Any]:
    """The project's secrets (owner, members, administrators): never values."""
    return await Scoped.list(sealer, session, project)


@router.post(PROJECT)
@router.post(PROJECT_V1BETA)
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
@router.get(PROJECT_V1BETA + "/{name}")
async def describe_project(
    project: RunnableProject, name: str, sealer: SealerDep, session: SessionDep
) -> dict[str, Any]:
    return await Scoped.describe(sealer, session, project, name)


@router.patch(PROJECT + "/{name}")
@router.patch(PROJECT_V1BETA + "/{name}")
@router.put(PROJECT_V1BETA + "/{name}")
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
@router.delete(PROJECT_V1BETA + "/{name}")
async def delete_project(
    project: RunnableProject, name: str, session: SessionDep, caller: CallerDep
) -> dict[str, str]:
    await secrets.delete_secret(session, caller, project, name)
    return {}
