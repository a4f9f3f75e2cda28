"""Server settings, read from BLOCKPOST_* environment variables and `serve` flags."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from blockpost.agent.sandbox import SandboxMode
from blockpost.artifacts.location import parse_location
from blockpost.dispatch.embedded import EmbeddedUsers
from blockpost.tls import check_pair, check_readable

SECRET_KEY_FILE = "secret.key"
SQLITE_FILE = "blockpost.db"


class Settings(BaseSettings):
    """Everything an operator can set; every field maps to BLOCKPOST_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="BLOCKPOST_", extra="ignore")

    data_dir: Path = Field(default=Path(".blockpost"), description="Where state lives.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite file in the data dir."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    admin_password: str | None = Field(
        default=None, description="Password of `admin` on first start; generated when unset."
    )
    secret_key: str | None = Field(
        default=None, description="Key for encryption at rest; generated into the data dir."
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    snapshot_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest workflow snapshot archive (`sem create workflow`); its files "
        "may unpack to four times as much.",
    )
    session_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=60)
    migrate_on_start: bool = True
    sync_hold_seconds: float = Field(
        default=20.0,
        ge=0,
        le=25,
        description="How long an idle agent's sync is held open waiting for a job "
        "(the official agent gives up on a request after 30 s).",
    )
    agent_lease_seconds: int = Field(
        default=60, ge=10, le=600, description="An agent silent this long is lost; its job fails."
    )
    log_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Cap on one job's log."
    )
    agents: int = Field(
        default=1, ge=0, le=64, description="Embedded agents `serve` starts (type s1-local)."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="HTTP worker processes `serve` runs (PostgreSQL only); the embedded "
        "agents and the background loops run in the first alone.",
    )
    jobs_dir: Path | None = Field(
        default=None,
        description="Where the embedded agents make each job's directory; default: "
        "`blockpost-jobs` beside the data dir.",
    )
    job_sandbox: SandboxMode = Field(
        default=SandboxMode.AUTO,
        description="How the embedded agents isolate a job: bwrap (bubblewrap), none, or "
        "auto (bwrap when it works on this machine).",
    )
    job_user: str = Field(
        default="nobody",
        description="When the server runs as root, the user the embedded agents run jobs as.",
    )
    embedded_agent_users: EmbeddedUsers | None = Field(
        default=None,
        description="Whose jobs the embedded agents run: all, or admins; default: all when "
        "a job sandbox is in force, otherwise admins.",
    )
    hosted_agent_type: str = Field(
        default="s1-local",
        pattern=r"^s1-[a-zA-Z0-9-_]+$",
        description="Agent type that runs jobs asking for a hosted machine (e1-standard-2, ...).",
    )
    default_machine_type: str = Field(
        default="s1-local",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9-_]*$",
        max_length=100,
        description="Machine type of a standalone job that names none (`sem create job`).",
    )

    git_timeout_seconds: float = Field(
        default=120, gt=0, le=3600, description="Longest a git fetch of a project may take."
    )
    poll_interval_seconds: int = Field(
        default=0,
        ge=0,
        le=86400,
        description="Fetch every project's repository this often and build new heads as "
        "pushes (0: only projects with spec.repository.poll_interval; theirs wins).",
    )
    allow_local_repositories: bool = Field(
        default=False,
        description="Let projects use a path on the server or a file:// URL as repository "
        "(anyone who can create a project could then read repositories on this disk).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Server log lines: plain text, or one JSON object each."
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Addresses of reverse proxies whose X-Forwarded-For/-Proto to trust "
        "(comma-separated, as uvicorn's --forwarded-allow-ips); empty: trust none.",
    )
    tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) to serve HTTPS with; needs BLOCKPOST_TLS_KEY.",
    )
    tls_key: Path | None = Field(
        default=None,
        validate_default=True,
        description="PEM private key of BLOCKPOST_TLS_CERT (unencrypted).",
    )
    access_log: bool = Field(
        default=False,
        description="Log every HTTP request (agents' syncs included) at INFO.",
    )
    # notifications (issue 17)
    allow_private_notification_endpoints: bool = Field(
        default=False,
        description="Let notifications go to loopback, private and link-local addresses "
        "(a chat server on your network; also anything else the server can reach there).",
    )
    public_url: str = Field(
        default="",
        description="The server's URL as users reach it, for links in notifications; "
        "default: http://HOST:PORT.",
    )
    engine_tick_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the engine looks at running pipelines without being woken "
        "(time limits; changes made by other replicas).",
    )
    # artifacts (issue 18)
    artifact_store: str = Field(
        default="",
        description="Where artifacts live: a directory (default: the data dir), or "
        "s3://BUCKET/PREFIX for S3-compatible object storage.",
    )
    artifact_s3_endpoint_url: str = Field(
        default="", description="S3 endpoint for a store that is not AWS (MinIO, Ceph...)."
    )
    artifact_s3_region: str = Field(default="", description="S3 region; default: boto3's.")
    artifact_s3_access_key_id: str = Field(
        default="", description="S3 credentials; default: boto3's (environment, profile, role)."
    )
    artifact_s3_secret_access_key: str = ""
    artifact_url_seconds: int = Field(
        default=3600, ge=10, le=7 * 24 * 3600, description="How long a signed artifact URL works."
    )
    artifact_retention_interval_seconds: float = Field(
        default=3600,
        gt=0,
        description="How often artifacts past their project's retention policy are removed.",
    )
    # the job cache (issue 18): archives kept in the artifact store, under cache/
    cache_project_limit_bytes: int = Field(
        default=9 * 1024**3,
        ge=1,
        description="How much cache each project may keep; storing past it evicts the "
        "project's least recently used keys.",
    )

    # commit statuses (issue 19): each provider's API root, as its documentation names it
    github_api_url: str = Field(
        default="https://api.github.com",
        description="GitHub's REST API root for commit statuses; GitHub Enterprise: "
        "https://HOST/api/v3.",
    )
    gitlab_api_url: str = Field(
        default="https://gitlab.com/api/v4",
        description="GitLab's REST API root for commit statuses; self-hosted: https://HOST/api/v4.",
    )
    gitea_api_url: str = Field(
        default="",
        description="Gitea's or Forgejo's API root for commit statuses (https://HOST/api/v1); "
        "projects with integration_type gitea post nothing until it is set.",
    )
    bitbucket_api_url: str = Field(
        default="https://api.bitbucket.org/2.0",
        description="Bitbucket Cloud's API root for build statuses.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("github_api_url", "gitlab_api_url", "gitea_api_url", "bitbucket_api_url")
    @classmethod
    def _api_root(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL (the forge's API root)")
        return value

    @field_validator("artifact_store")
    @classmethod
    def _store_location(cls, value: str) -> str:
        if value.startswith("s3:"):
            parse_location(value)
        return value

    @field_validator("tls_cert")
    @classmethod
    def _readable_cert(cls, value: Path | None) -> Path | None:
        return None if value is None else check_readable(value)

    @field_validator("tls_key")
    @classmethod
    def _key_of_the_cert(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # The key is validated after the certificate: a bad certificate was reported already.
        if "tls_cert" not in info.data:
            return value
        cert = info.data["tls_cert"]
        if value is None and cert is None:
            return None
        if value is None:
            raise ValueError("is required when BLOCKPOST_TLS_CERT (--tls-cert) is set")
        if cert is None:
            raise ValueError("needs BLOCKPOST_TLS_CERT (--tls-cert) too")
        check_pair(cert, check_readable(value))
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / SQLITE_FILE).resolve()}"

    @property
    def embedded_policy(self) -> EmbeddedUsers | None:
        """Whose jobs the embedded agents take; None when there are none. `serve` sets
        embedded_agent_users once it knows whether a sandbox is in force."""
        if not self.agents:
            return None
        return self.embedded_agent_users or EmbeddedUsers.ADMINS

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_jobs_dir(self) -> Path:
        if self.jobs_dir is not None:
            return self.jobs_dir.resolve()
        return self.data_dir.resolve().parent / "blockpost-jobs"

    @property
    def organization_id(self) -> str:
        """The one organization's id (Semaphore's `org_id`): a UUID derived from the secret
        key, so every replica of one installation agrees on it and nothing is stored."""
        assert self.secret_key, "prepare_data_dir() gives every server a secret key"
        digest = hmac.new(self.secret_key.encode(), b"organization", hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def prepare_data_dir(self) -> None:
        """Create the data dir (0700: only the server's user may enter) and make sure a
        secret key exists (kept in the dir if generated)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # not ours to change; its owner decides
            self.data_dir.chmod(0o700)
        if self.secret_key:
            return
        key_file = self.data_dir / SECRET_KEY_FILE
        if not key_file.exists():
            # O_EXCL so that two processes starting together never write different keys.
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(32))
        self.secret_key = key_file.read_text().strip()
