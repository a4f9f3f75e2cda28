"""The notifier loop: sends due deliveries with httpx, retrying with backoff, and records
each attempt's status code or error in the delivery log. Commit statuses go the same way
(commit_status/ writes them and builds their requests).

One replica sends (a PostgreSQL advisory lock, as the engine's). Delivery is at least
once: an attempt is counted and its retry scheduled before the request goes out, so a
crash mid-request sends again later rather than never.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.background import LoopService
from blockpost.commit_status import delivery as commit_status
from blockpost.commit_status.forges import ApiRoots
from blockpost.commit_status.outbox import KIND as COMMIT_STATUS
from blockpost.crypto import Sealer
from blockpost.db.engine import Database
from blockpost.db.leader import LeaderLock
from blockpost.db.models import Block, Job, NotificationDelivery, Pipeline, Project, Workflow
from blockpost.errors import NotFound
from blockpost.notify import messages
from blockpost.notify.endpoints import refusal
from blockpost.services import secrets
from blockpost.services.secrets import SecretData
from blockpost.timefmt import utcnow

log = logging.getLogger(__name__)
LEADER_KEY = 0x626C6B70_0004  # "blkp", notifications
SECRET_VARIABLE = "WEBHOOK_SECRET"  # the variable of the named secret that signs, as Semaphore
SIGNATURE_HEADER = "X-Semaphore-Signature-256"
DEFAULT_TIMEOUT_MS = 5_000
MAX_BACKOFF_SECONDS = 300.0
BATCH = 20
_RETRIED_STATUSES = {408, 425, 429}


@dataclass(frozen=True)
class SenderOptions:
    server_url: str  # links in Slack messages
    organization: str  # the webhook payload's organization.name
    organization_id: str
    allow_private: bool
    interval: float = 1.0  # how often due deliveries are looked for
    backoff: float = 2.0  # seconds before the first retry; doubles on each one
    forge_roots: ApiRoots = field(default_factory=ApiRoots)  # where commit statuses go


class _Permanent(Exception):
    """A delivery that no retry can help."""


class Notifier(LoopService):
    name = "notifier"

    def __init__(self, db: Database, sealer: Sealer, options: SenderOptions) -> None:
        super().__init__()
        self.db = db
        self.sealer = sealer
        self.options = options
        self.leader = LeaderLock(db, LEADER_KEY)

    async def stop(self) -> None:
        await super().stop()
        await self.leader.release()

    async def one_pass(self) -> float | None:
        return 0 if await self.run_once() else self.options.interval

    async def run_once(self) -> int:
        """Makes one attempt at every due delivery (up to a batch); returns how many."""
        if not await self.leader.held():
            return 0
        async with self.db.session() as session:
            due = (
                await session.scalars(
                    select(NotificationDelivery.id)
                    .where(
                        NotificationDelivery.state == "pending",
                        NotificationDelivery.next_attempt_at <= utcnow(),
                    )
                    .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
                    .limit(BATCH)
                )
            ).all()
        if not due:
            return 0  # an idle pass makes no client: its TLS context costs ~30 ms of CPU
        async with httpx.AsyncClient(follow_redirects=False) as client:
            await asyncio.gather(*(self._attempt(client, delivery_id) for delivery_id in due))
        return len(due)

    async def _attempt(self, client: httpx.AsyncClient, delivery_id: int) -> None:
        claimed = await self._claim(delivery_id)
        if claimed is None:
            return
        request, screened = claimed
        status, error, permanent = await self._send(client, request, screened=screened)
        await self._record(delivery_id, status, error, permanent=permanent)

    async def _claim(self, delivery_id: int) -> tuple[httpx.Request, bool] | None:
        """Counts the attempt and schedules its retry, then builds the request and says
        whether its address is screened (a commit status goes to a forge the settings name,
        not to an endpoint a user gave); None when there is nothing to send (no longer
        pending, or failed for good here)."""
        async with self.db.session() as session:
            delivery = await session.get(NotificationDelivery, delivery_id)
            if delivery is None or delivery.state != "pending":
                return None
            delivery.attempts += 1
            delay = min(self.options.backoff * 2 ** (delivery.attempts - 1), MAX_BACKOFF_SECONDS)
            delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
            try:
                return await self._request(session, delivery), delivery.kind != COMMIT_STATUS
            except (_Permanent, commit_status.Undeliverable) as exc:
                delivery.state = "failed"
                delivery.error = str(exc)
                delivery.finished_at = utcnow()
                return None

    async def _request(
        self, session: AsyncSession, delivery: NotificationDelivery
    ) -> httpx.Request:
        if delivery.kind == COMMIT_STATUS:
            options = self.options
            headers = await commit_status.prepare(
                session, self.sealer, delivery, options.forge_roots, options.server_url
            )
            return httpx.Request(
                delivery.method,
                delivery.endpoint,
                content=delivery.body.encode(),
                headers={"Content-Type": "application/json", "User-Agent": "blockpost", **headers},
                extensions={"timeout": httpx.Timeout(DEFAULT_TIMEOUT_MS / 1000).as_dict()},
            )
        if not delivery.body:
            facts = await self._facts(session, delivery.pipeline_id)
            if delivery.kind == "slack":
                body = messages.slack(facts, delivery.channel)
            else:
                body = messages.webhook(
                    facts, self.options.organization, self.options.organization_id
                )
            delivery.body = json.dumps(body)
        headers = {"Content-Type": "application/json"}
        if delivery.kind == "webhook":
            headers["User-Agent"] = "Semaphore-Webhook"
            headers["X-Semaphore-Webhook-Id"] = delivery.message_id
            if delivery.secret_name:
                key = await self._signing_key(session, delivery.secret_name)
                digest = hmac.new(key.encode(), delivery.body.encode(), hashlib.sha256)
                headers[SIGNATURE_HEADER] = digest.hexdigest()
        timeout = (delivery.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000
        return httpx.Request(
            delivery.method,
            delivery.endpoint,
            content=delivery.body.encode(),
            headers=headers,
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )

    async def _facts(self, session: AsyncSession, pipeline_id: str) -> messages.Facts:
        pipeline = await session.get(Pipeline, pipeline_id)
        if pipeline is None:
            raise _Permanent("the pipeline is gone")
        workflow = await session.get(Workflow, pipeline.workflow_id)
        project = await session.get(Project, pipeline.project_id)
        if workflow is None or project is None:
            raise _Permanent("the pipeline's workflow or project is gone")
        of_pipeline = Block.pipeline_id == pipeline_id
        blocks = (await session.scalars(select(Block).where(of_pipeline))).all()
        jobs = (await session.scalars(select(Job).where(Job.pipeline_id == pipeline_id))).all()
        return messages.Facts(pipeline, workflow, project, blocks, jobs, self.options.server_url)

    async def _signing_key(self, session: AsyncSession, name: str) -> str:
        """The signing key is read at each attempt: a changed secret signs the retries."""
        try:
            secret = await secrets.get_secret(session, None, name)
        except NotFound:
            raise _Permanent(f"webhook secret {name!r}: no global secret of that name") from None
        values = dict(SecretData.unseal(self.sealer, secret.sealed).env_vars)
        if not values.get(SECRET_VARIABLE):
            raise _Permanent(f"webhook secret {name!r} has no {SECRET_VARIABLE} variable")
        return values[SECRET_VARIABLE]

    async def _send(
        self, client: httpx.AsyncClient, request: httpx.Request, *, screened: bool
    ) -> tuple[int | None, str, bool]:
        """(status code, error, whether retrying is pointless) of one attempt."""
        allow_private = self.options.allow_private or not screened
        why = await refusal(str(request.url), allow_private=allow_private)
        if why:
            return None, why, True
        try:
            response = await client.send(request)
        except httpx.TimeoutException:
            return None, "timed out", False
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:1000], False
        status = response.status_code
        if 200 <= status < 300:
            return status, "", False
        error = f"answered {status}: {response.text[:200]}"
        return status, error, not (status >= 500 or status in _RETRIED_STATUSES)

    async def _record(
        self, delivery_id: int, status: int | None, error: str, *, permanent: bool
    ) -> None:
        async with self.db.session() as session:
            delivery = await session.get(NotificationDelivery, delivery_id)
            if delivery is None:
                return
            delivery.status_code = status
            delivery.error = error
            if not error:
                delivery.state = "delivered"
            elif permanent or delivery.attempts >= delivery.max_attempts:
                delivery.state = "failed"
            if delivery.state != "pending":
                delivery.finished_at = utcnow()
            else:
                log.info(
                    "notification delivery %s failed (%s); attempt %s of %s",
                    delivery_id,
                    error,
                    delivery.attempts,
                    delivery.max_attempts,
                )
