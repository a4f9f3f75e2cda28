"""A project's repository credentials: its deploy key, HTTPS credential and known hosts."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from blockpost.api.deps import EngineDep, SealerDep, SessionDep
from blockpost.api.projects import ManagedProject
from blockpost.api.request_model import RequestModel
from blockpost.errors import NotFound
from blockpost.git import credentials
from blockpost.git.credentials import HostKey

router = APIRouter(prefix="/api/v1alpha/projects", tags=["projects"])


class HostKeyOut(BaseModel):
    host: str
    type: str
    fingerprint: str

    @classmethod
    def of(cls, key: HostKey) -> HostKeyOut:
        return cls(host=key.host, type=key.type, fingerprint=key.fingerprint)


class KnownHostsOut(BaseModel):
    known_hosts: list[HostKeyOut]


class DeployKeyOut(KnownHostsOut):
    public_key: str
    fingerprint: str


class HttpsCredentialIn(RequestModel):
    username: str = Field(max_length=credentials.HTTPS_FIELD_MAX)
    token: str = Field(max_length=credentials.HTTPS_FIELD_MAX)


class HttpsCredentialOut(BaseModel):
    username: str


class KnownHostsIn(RequestModel):
    known_hosts: str = Field(
        max_length=credentials.KNOWN_HOSTS_MAX,
        description="known_hosts lines (`host type base64-key`), as `ssh-keyscan` prints them",
    )


def _host_keys(engine: EngineDep, project_id: str) -> list[HostKeyOut]:
    text = credentials.read_known_hosts(engine.mirrors.known_hosts(project_id))
    return [HostKeyOut.of(key) for key in credentials.parse_known_hosts(text)]


def _deploy_key(project: ManagedProject, engine: EngineDep) -> DeployKeyOut:
    public = project.deploy_key_public
    return DeployKeyOut(
        public_key=public,
        fingerprint=credentials.public_fingerprint(public),
        known_hosts=_host_keys(engine, project.id),
    )


@router.post("/{project}/deploy_key", response_model=DeployKeyOut)
async def create_deploy_key(
    project: ManagedProject, session: SessionDep, sealer: SealerDep, engine: EngineDep
) -> DeployKeyOut:
    """Makes a new ed25519 deploy key (replacing any) and answers its public half, to add to
    the repository's deploy keys at the forge. The private half is sealed, never shown."""
    credentials.set_deploy_key(project, sealer, f"blockpost-{project.name}")
    await session.flush()
    return _deploy_key(project, engine)


@router.get("/{project}/deploy_key", response_model=DeployKeyOut)
async def describe_deploy_key(project: ManagedProject, engine: EngineDep) -> DeployKeyOut:
    """The public key, its fingerprint and the host keys the project's fetches trust."""
    if not project.deploy_key_public:
        raise NotFound(f"project {project.name!r} has no deploy key")
    return _deploy_key(project, engine)


@router.delete("/{project}/deploy_key")
async def delete_deploy_key(project: ManagedProject, session: SessionDep) -> dict[str, str]:
    """Removes the deploy key: fetches and jobs go without it."""
    credentials.remove_deploy_key(project)
    await session.flush()
    return {}


@router.put("/{project}/https_credential", response_model=HttpsCredentialOut)
async def set_https_credential(
    project: ManagedProject, body: HttpsCredentialIn, session: SessionDep, sealer: SealerDep
) -> HttpsCredentialOut:
    """The username and token the server fetches an https repository with (sealed; the
    token is never shown)."""
    credentials.set_https_credential(project, sealer, body.username, body.token)
    await session.flush()
    return HttpsCredentialOut(username=body.username)


@router.get("/{project}/https_credential", response_model=HttpsCredentialOut)
async def describe_https_credential(
    project: ManagedProject, sealer: SealerDep
) -> HttpsCredentialOut:
    """The credential's username (never its token)."""
    username = credentials.https_username(project, sealer)
    if username is None:
        raise NotFound(f"project {project.name!r} has no HTTPS credential")
    return HttpsCredentialOut(username=username)


@router.delete("/{project}/https_credential")
async def delete_https_credential(project: ManagedProject, session: SessionDep) -> dict[str, str]:
    """Removes the HTTPS credential: fetches go without it."""
    credentials.remove_https_credential(project)
    await session.flush()
    return {}


@router.get("/{project}/known_hosts", response_model=KnownHostsOut)
async def describe_known_hosts(project: ManagedProject, engine: EngineDep) -> KnownHostsOut:
    """The SSH host keys the project's fetches and jobs trust, with their fingerprints."""
    return KnownHostsOut(known_hosts=_host_keys(engine, project.id))


@router.put("/{project}/known_hosts", response_model=KnownHostsOut)
async def set_known_hosts(
    project: ManagedProject, body: KnownHostsIn, engine: EngineDep
) -> KnownHostsOut:
    """Replaces the trusted host keys (before a first fetch, or after a host's key really
    changed); a fetch then refuses any other key for those hosts."""
    keys = credentials.write_known_hosts(engine.mirrors.known_hosts(project.id), body.known_hosts)
    return KnownHostsOut(known_hosts=[HostKeyOut.of(key) for key in keys])


@router.delete("/{project}/known_hosts")
async def delete_known_hosts(project: ManagedProject, engine: EngineDep) -> dict[str, str]:
    """Forgets the host keys: the next fetch records the ones it is offered."""
    credentials.write_known_hosts(engine.mirrors.known_hosts(project.id), "")
    return {}
