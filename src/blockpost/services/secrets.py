"""Secrets: create, change, read and delete them, sealed at rest; resolve them for a run."""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.crypto import Sealer
from blockpost.db.models import Project, Secret
from blockpost.errors import Conflict, InvalidInput, NotFound
from blockpost.services import audit, projects
from blockpost.services.principal import Principal

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GLOBAL = ""


@dataclass
class SecretData:
    env_vars: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "env_vars": [{"name": name, "value": value} for name, value in self.env_vars],
            "files": [
                {"path": path, "content": base64.b64encode(content).decode(), "mode": "0644"}
                for path, content in self.files
            ],
        }

    def sealed(self, sealer: Sealer) -> str:
        return sealer.seal(self.as_json())

    @classmethod
    def unseal(cls, sealer: Sealer, sealed: str) -> SecretData:
        """The values a secret or a deployment target keeps sealed at rest."""
        return cls.from_json(sealer.open(sealed))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SecretData:
        return cls(
            env_vars=[(e["name"], e["value"]) for e in data.get("env_vars", [])],
            files=[(f["path"], base64.b64decode(f["content"])) for f in data.get("files", [])],
        )


@dataclass(frozen=True)
class SentSecret:
    """A secret as a client sends it: file contents in base64, nothing checked yet.

    None is a part not sent: an update keeps it, a create has none. A blank value or
    content is one not sent for that name or path: an update keeps the stored one.
    """

    name: str | None
    env_vars: Sequence[tuple[str, str]] | None = None
    files: Sequence[tuple[str, str]] | None = None
    description: str | None = None


def _check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InvalidInput(
            "metadata.name", "must be 1-255 letters, digits, '.', '_' or '-', starting with one"
        )
    return name


def _contents(sent: SentSecret, stored: SecretData) -> SecretData:
    """The secret's new contents: what was sent, blanks filled from `stored`.

    Clients send a secret back as they were shown it, and a list shows no values, nor does
    Semaphore's describe without `content_included`: such a blank must never wipe a value.
    """
    env_vars: Sequence[tuple[str, str]] = stored.env_vars
    files = [(path, base64.b64encode(content).decode()) for path, content in stored.files]
    missing: list[str] = []
    if sent.env_vars is not None:
        kept = dict(env_vars)
        env_vars = [(name, value or kept.get(name, "")) for name, value in sent.env_vars]
        missing += [
            f"data.env_vars.{index}.value"
            for index, (name, value) in enumerate(sent.env_vars)
            if not value and name not in kept
        ]
    if sent.files is not None:
        kept = dict(files)
        files = [(path, content or kept.get(path, "")) for path, content in sent.files]
        missing += [
            f"data.files.{index}.content"
            for index, (path, content) in enumerate(sent.files)
            if not content and path not in kept
        ]
    data = check_contents(env_vars, files, "data.")
    if missing:
        raise InvalidInput(missing[0], "is required")
    return data


def check_contents(
    env_vars: Sequence[tuple[str, str]], files: Sequence[tuple[str, str]], where: str = ""
) -> SecretData:
    """Env var names and base64 file contents as sent (of a secret or a deployment target)."""
    seen: set[str] = set()
    for index, (env_name, _) in enumerate(env_vars):
        if not ENV_NAME_RE.match(env_name):
            raise InvalidInput(f"{where}env_vars.{index}.name", "is not a valid variable name")
        if env_name in seen:
            raise InvalidInput(f"{where}env_vars.{index}.name", f"{env_name} appears twice")
        seen.add(env_name)
    decoded = []
    for index, (path, content) in enumerate(files):
        if not path.strip() or "\0" in path:
            raise InvalidInput(f"{where}files.{index}.path", "must be a file path")
        try:
            decoded.append((path, base64.b64decode(content, validate=True)))
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{where}files.{index}.content", "is not base64") from None
    return SecretData(list(env_vars), decoded)


def _scope_key(project: Project | None) -> str:
    return project.id if project else GLOBAL


async def _find(session: AsyncSession, project: Project | None, id_or_name: str) -> Secret:
    scope = _scope_key(project)
    secret = await session.scalar(
        select(Secret).where(Secret.scope == scope, Secret.name == id_or_name)
    ) or await session.scalar(select(Secret).where(Secret.scope == scope, Secret.id == id_or_name))
    if secret is None:
        raise NotFound(f"secret {id_or_name!r} not found")
    return secret


# `project`: the project whose secrets these are, or None for global secrets. The API checks
# the caller's right to the scope before it reads a body (global secrets: administrators,
# but for the list of names; a project's: its owner, members and administrators); these
# functions take the scope as checked.


async def list_secrets(session: AsyncSession, project: Project | None) -> Sequence[Secret]:
    rows = await session.scalars(
        select(Secret).where(Secret.scope == _scope_key(project)).order_by(Secret.name)
    )
    return rows.all()


@dataclass(frozen=True, slots=True)
class SecretNames:
    """What a page may show of a secret: its env var names and file paths, no values."""

    name: str
    description: str
    updated_at: datetime
    env_vars: list[str]
    files: list[str]


@dataclass(frozen=True, slots=True)
class SecretsPage:
    organization: list[SecretNames]
    # the projects the caller may run in (their secrets are their runners'), with theirs
    scoped: list[tuple[Project, list[SecretNames]]]


async def secrets_page(
    session: AsyncSession, sealer: Sealer, caller: Principal, shown: Sequence[Project]
) -> SecretsPage:
    """The global secrets and those of the projects in `shown` the caller may run in, by
    name, in one query. The names live only inside the sealed contents, so each secret is
    opened here and its values dropped before anything leaves this function."""
    runnable = await projects.runnable_ids(session, caller, shown)
    rows = await session.scalars(
        select(Secret).where(Secret.scope.in_([GLOBAL, *runnable])).order_by(Secret.name)
    )
    by_scope: dict[str, list[SecretNames]] = defaultdict(list)
    for row in rows:
        data = SecretData.unseal(sealer, row.sealed)
        by_scope[row.scope].append(
            SecretNames(
                name=row.name,
                description=row.description,
                updated_at=row.updated_at,
                env_vars=[name for name, _ in data.env_vars],
                files=[path for path, _ in data.files],
            )
        )
    return SecretsPage(
        by_scope[GLOBAL],
        [(project, by_scope[project.id]) for project in shown if project.id in runnable],
    )


async def get_secret(session: AsyncSession, project: Project | None, id_or_name: str) -> Secret:
    return await _find(session, project, id_or_name)


async def create_secret(
    session: AsyncSession,
    sealer: Sealer,
    caller: Principal,
    project: Project | None,
    sent: SentSecret,
) -> tuple[Secret, SecretData]:
    name = _check_name(sent.name or "")
    data = _contents(sent, SecretData())
    scope = _scope_key(project)
    if await session.scalar(select(Secret.id).where(Secret.scope == scope, Secret.name == name)):
        raise Conflict(f"a secret named {name!r} already exists")
    secret = Secret(
        name=name,
        scope=scope,
        project_id=project.id if project else None,
        description=sent.description or "",
        sealed=data.sealed(sealer),
    )
    session.add(secret)
    await session.flush()
    await audit.record(session, caller, "created", _resource(secret), _names(data))
    return secret, data


def _resource(secret: Secret) -> audit.Resource:
    return audit.Resource("secret", secret.id, secret.name, secret.project_id)


def _names(data: SecretData) -> dict[str, list[str]]:
    """What an audit entry says of a secret's contents: names and paths, never values."""
    return {
        "env_vars": [name for name, _ in data.env_vars],
        "files": [path for path, _ in data.files],
    }


async def update_secret(
    session: AsyncSession,
    sealer: Sealer,
    caller: Principal,
    project: Project | None,
    id_or_name: str,
    sent: SentSecret,
) -> tuple[Secret, SecretData]:
    """Changes the parts sent (see SentSecret); env vars and files sent replace the stored
    lists, so one left out of a list sent is removed."""
    secret = await _find(session, project, id_or_name)
    name = secret.name if sent.name is None else _check_name(sent.name)
    data = _contents(sent, SecretData.unseal(sealer, secret.sealed))
    if name != secret.name:
        clash = await session.scalar(
            select(Secret.id).where(Secret.scope == secret.scope, Secret.name == name)
        )
        if clash:
            raise Conflict(f"a secret named {name!r} already exists")
    secret.name = name
    secret.sealed = data.sealed(sealer)
    if sent.description is not None:
        secret.description = sent.description
    await session.flush()
    await audit.record(session, caller, "updated", _resource(secret), _names(data))
    return secret, data


async def delete_secret(
    session: AsyncSession, caller: Principal, project: Project | None, id_or_name: str
) -> None:
    secret = await _find(session, project, id_or_name)
    await session.delete(secret)
    await session.flush()
    await audit.record(session, caller, "deleted", _resource(secret))


async def resolve(
    session: AsyncSession, sealer: Sealer, project_id: str, names: Sequence[str]
) -> dict[str, SecretData]:
    """The named secrets for a run: a project secret wins over a global one of the same name.

    Raises NotFound naming the first secret that exists in neither scope.
    """
    if not names:
        return {}
    rows = await session.scalars(
        select(Secret).where(Secret.name.in_(set(names)), Secret.scope.in_([project_id, GLOBAL]))
    )
    found: dict[str, Secret] = {}
    for secret in rows:
        if secret.name not in found or secret.scope == project_id:
            found[secret.name] = secret
    for name in names:
        if name not in found:
            raise NotFound(f"Secret '{name}' not found")
    return {name: SecretData.unseal(sealer, secret.sealed) for name, secret in found.items()}
