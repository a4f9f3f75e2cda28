"""The job payload an agent fetches: Semaphore's JobRequest, env values and files in base64."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.crypto import Sealer
from blockpost.db.models import Job
from blockpost.security import new_token, token_hash


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _commands(lines: list[str]) -> list[dict[str, str]]:
    return [{"directive": line} for line in lines]


async def issue_log_token(session: AsyncSession, job: Job) -> str:
    """A fresh per-job log token; it replaces the previous one and dies with the job."""
    secret = new_token()
    job.log_token_hash = token_hash(secret)
    await session.flush()
    return secret


def secret_values(job: Job, sealer: Sealer) -> list[str]:
    """The values of the env vars the job's secrets give it (to mask in its log)."""
    sealed = job.spec.get("sealed")
    return [env["value"] for env in sealer.open(sealed).get("env_vars", [])] if sealed else []


def job_request(
    job: Job, *, log_url: str, log_token: str, log_max_bytes: int, sealer: Sealer
) -> dict[str, Any]:
    spec = job.spec
    secrets = sealer.open(spec["sealed"]) if spec.get("sealed") else {}
    return {
        "job_id": job.id,
        "job_name": job.name,
        "executor": "",
        "commands": _commands(spec.get("commands", [])),
        "epilogue_always_commands": _commands(spec.get("epilogue_always_commands", [])),
        "epilogue_on_pass_commands": _commands(spec.get("epilogue_on_pass_commands", [])),
        "epilogue_on_fail_commands": _commands(spec.get("epilogue_on_fail_commands", [])),
        "env_vars": [
            {"name": env["name"], "value": _b64(env["value"])}
            for env in (*spec.get("env_vars", []), *secrets.get("env_vars", []))
        ],
        "files": [
            {"path": f["path"], "content": f["content"], "mode": f.get("mode", "0644")}
            for f in (*spec.get("files", []), *secrets.get("files", []))
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
