"""The job payload an agent fetches: Semaphore's JobRequest, env values and files in base64."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.crypto import Sealer
from blockpost.db.models import Job, Project
from blockpost.dispatch.jobenv import request_env, snapshot_git_env
from blockpost.git import Mirrors
from blockpost.git.credentials import NO_JOB_ACCESS, JobAccess
from blockpost.security import new_token, token_hash


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _commands(lines: list[str]) -> list[dict[str, str]]:
    return [{"directive": line} for line in lines]


def _env_vars(plain: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"name": env["name"], "value": _b64(env["value"])} for env in plain]


def _files(files: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {"path": f["path"], "content": f["content"], "mode": f.get("mode", "0644")} for f in files
    ]


def _compose(compose: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    """Semaphore's Compose: the containers (their secrets' variables after their own) and
    the image pull secrets as credentials."""
    sealed = sealer.open(compose["sealed"]) if compose.get("sealed") else {}
    secret_env = sealed.get("containers", [])
    containers = []
    for index, container in enumerate(compose["containers"]):
        secrets = secret_env[index] if index < len(secret_env) else []
        containers.append(
            {
                "name": container["name"],
                "image": container["image"],
                "command": container["command"],
                "entrypoint": container["entrypoint"],
                "user": container["user"],
                "env_vars": _env_vars([*container["env_vars"], *secrets]),
            }
        )
    return {
        "containers": containers,
        "image_pull_credentials": [
            {"env_vars": _env_vars(item["env_vars"]), "files": _files(item["files"])}
            for item in sealed.get("image_pull_credentials", [])
        ],
        "host_setup_commands": [],
    }


async def issue_log_token(session: AsyncSession, job: Job) -> str:
    """A fresh per-job log token; it replaces the previous one and dies with the job."""
    secret = new_token()
    job.log_token_hash = token_hash(secret)
    await session.flush()
    return secret


def secret_values(job: Job, sealer: Sealer) -> list[str]:
    """The values of the env vars the job's secrets give it and its containers, and of its
    image pull credentials (to mask in its log)."""
    values: list[str] = []
    if sealed := job.spec.get("sealed"):
        values += [env["value"] for env in sealer.open(sealed).get("env_vars", [])]
    if sealed := job.spec.get("compose", {}).get("sealed"):
        opened = sealer.open(sealed)
        for env_vars in opened.get("containers", []):
            values += [env["value"] for env in env_vars]
        for credentials in opened.get("image_pull_credentials", []):
            values += [env["value"] for env in credentials["env_vars"]]
    return values


async def repository_access(session: AsyncSession, job: Job, mirrors: Mirrors) -> JobAccess:
    """The deploy key and host keys of the job's project, for its `checkout` (only its own
    project's jobs get them)."""
    project = await session.get(Project, job.project_id) if job.project_id else None
    return mirrors.job_access(project) if project is not None else NO_JOB_ACCESS


SNAPSHOT_GIT = "/api/v1/snapshots/"


def snapshot_clone_url(job: Job, sealer: Sealer, organization_url: str, snapshot_id: str) -> str:
    """The server's read-only git URL of the snapshot, with the job's credentials in it:
    its id and a sealed token that names the snapshot and the job's current log token,
    so it is good for this snapshot only, and only while the job runs."""
    token = sealer.seal({"job": job.id, "snapshot": snapshot_id, "log": job.log_token_hash})
    parts = urlsplit(organization_url)
    netloc = f"{quote(job.id, safe='')}:{quote(token, safe='')}@{parts.netloc}"
    path = f"{parts.path.rstrip('/')}{SNAPSHOT_GIT}{snapshot_id}.git"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def job_request(
    job: Job,
    *,
    log_url: str,
    log_token: str,
    log_max_bytes: int,
    sealer: Sealer,
    organization_url: str,
    artifact_token: str,
    repository: JobAccess,
) -> dict[str, Any]:
    spec = job.spec
    if git_env := spec.get("git_env_vars"):
        spec = {
            **spec,
            "git_env_vars": snapshot_git_env(
                git_env, lambda sid: snapshot_clone_url(job, sealer, organization_url, sid)
            ),
        }
    secrets = sealer.open(spec["sealed"]) if spec.get("sealed") else {}
    request: dict[str, Any] = {"job_id": job.id, "job_name": job.name, "executor": ""}
    if compose := spec.get("compose"):
        # Never the host: an agent with no docker compose executor fails such a job.
        request["executor"] = "dockercompose"
        request["compose"] = _compose(compose, sealer)
    return {
        **request,
        "commands": _commands(spec.get("commands", [])),
        "epilogue_always_commands": _commands(spec.get("epilogue_always_commands", [])),
        "epilogue_on_pass_commands": _commands(spec.get("epilogue_on_pass_commands", [])),
        "epilogue_on_fail_commands": _commands(spec.get("epilogue_on_fail_commands", [])),
        "env_vars": [
            {"name": name, "value": _b64(value)}
            for name, value in request_env(
                spec,
                secrets.get("env_vars", []),
                organization_url,
                artifact_token,
                repository.env,
            )
        ],
        "files": [
            {"path": f["path"], "content": f["content"], "mode": f.get("mode", "0644")}
            for f in (*repository.files, *spec.get("files", []), *secrets.get("files", []))
        ],
        "ssh_public_keys": [],
        "callbacks": {"finished": "", "teardown_finished": "", "token": ""},
        "logger": {
            "method": "push",
            "url": log_url,
            "token": log_token,
            "max_size_in_bytes": log_max_bytes,
        },
    }
