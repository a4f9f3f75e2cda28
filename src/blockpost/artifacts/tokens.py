"""SEMAPHORE_ARTIFACT_TOKEN: derived from the job's id with the server's key, never stored.

`<job id>.<HMAC>`: the server recomputes the HMAC to check it, and the job's row says what
it may reach (access.py) and whether it still runs.
"""

from __future__ import annotations

import hashlib
import hmac

SEPARATOR = "."


def _digest(secret_key: str | None, job_id: str) -> str:
    assert secret_key, "prepare_data_dir() gives every server a secret key"
    key = hmac.new(secret_key.encode(), b"blockpost-artifact-token", hashlib.sha256).digest()
    return hmac.new(key, job_id.encode(), hashlib.sha256).hexdigest()


def token_for(secret_key: str | None, job_id: str) -> str:
    return f"{job_id}{SEPARATOR}{_digest(secret_key, job_id)}"


def job_of(secret_key: str | None, token: str) -> str | None:
    """The job a token was made for, or None for a token this server did not make."""
    job_id, _, digest = token.strip().partition(SEPARATOR)
    if not job_id or not digest:
        return None
    return job_id if hmac.compare_digest(_digest(secret_key, job_id), digest) else None
