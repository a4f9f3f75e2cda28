"""Webhooks: `POST /hooks/{provider}/{project}` from the forges, a project's hook URL and
secret (`/api/v1alpha/projects/{project}/webhook`) and its deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from blockpost.api.deps import CallerDep, SealerDep, SessionDep, SettingsDep
from blockpost.api.pagination import PageDep
from blockpost.db.engine import after_commit
from blockpost.db.models import HookDelivery, Project, ProjectHook
from blockpost.hooks import listing, receive, secrets
from blockpost.hooks.providers import PROVIDERS
from blockpost.services import projects
from blockpost.timefmt import iso_seconds

router = APIRouter(tags=["webhooks"])


class ReceivedOut(BaseModel):
    delivery_id: str  # ours: hook_id of the workflow it starts
    state: str  # accepted | skipped | ignored (or, replayed, what it became)
    reason: str
    replayed: bool


@router.post("/hooks/{provider}/{project}", response_model=ReceivedOut)
async def receive_delivery(
    provider: str, project: str, request: Request, session: SessionDep, sealer: SealerDep
) -> ReceivedOut:
    """A forge's delivery, checked against the project's secret before it is read (401
    and nothing stored otherwise). Answered once recorded; the workflow starts after."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    delivery, replayed = await receive.receive(
        session, sealer, provider, project, headers, await request.body()
    )
    if delivery.state == "accepted":
        after_commit(session, request.app.state.hook_signal.fire)
    return ReceivedOut(
        delivery_id=delivery.id, state=delivery.state, reason=delivery.reason, replayed=replayed
    )


class WebhookOut(BaseModel):
    urls: dict[str, str]  # by provider
    signature_headers: dict[str, str]  # what each forge sends the secret (or its HMAC) in
    secret_set: bool
    rotated_at: str | None
    poll_interval: int  # spec.repository.poll_interval: seconds between polls, 0 for none
    secret: str | None = None  # only in the answer of the POST that made it


def _webhook(
    settings_url: str, project: Project, hook: ProjectHook | None, secret: str | None = None
) -> WebhookOut:
    base = settings_url.rstrip("/")
    return WebhookOut(
        urls={name: f"{base}/hooks/{name}/{project.id}" for name in PROVIDERS},
        signature_headers={name: p.signature_header for name, p in PROVIDERS.items()},
        secret_set=bool(hook and hook.secret),
        rotated_at=iso_seconds(hook.rotated_at) if hook else None,
        poll_interval=hook.poll_interval if hook else 0,
        secret=secret,
    )


@router.get("/api/v1alpha/projects/{project}/webhook", response_model=WebhookOut)
async def describe_webhook(
    project: str, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> WebhookOut:
    """The hook URL for each forge and whether a secret is set (owner or administrator)."""
    found = await projects.manageable(session, caller, project)
    hook = await session.get(ProjectHook, found.id)
    return _webhook(settings.effective_public_url, found, hook)


@router.post("/api/v1alpha/projects/{project}/webhook", response_model=WebhookOut)
async def rotate_webhook_secret(
    project: str, session: SessionDep, caller: CallerDep, settings: SettingsDep, sealer: SealerDep
) -> WebhookOut:
    """Makes a new secret, shown in this answer only; the old one stops working."""
    found = await projects.manageable(session, caller, project)
    secret, _ = await secrets.rotate(session, sealer, found)
    hook = await session.get(ProjectHook, found.id)
    return _webhook(settings.effective_public_url, found, hook, secret)


class DeliveryOut(BaseModel):
    id: str
    provider: str
    delivery_id: str
    event: str
    action: str
    reference: str
    commit_sha: str
    commit_message: str
    commit_author: str
    sender: str
    pull_request: dict[str, object]
    state: str  # accepted | started | skipped | ignored | failed
    reason: str
    workflow_id: str | None
    created_at: str
    done_at: str | None

    @classmethod
    def of(cls, row: HookDelivery) -> DeliveryOut:
        return cls(
            id=row.id,
            provider=row.provider,
            delivery_id=row.delivery_id,
            event=row.event,
            action=row.action,
            reference=row.reference,
            commit_sha=row.commit_sha,
            commit_message=row.commit_message,
            commit_author=row.commit_author,
            sender=row.sender,
            pull_request=row.pull_request,
            state=row.state,
            reason=row.reason,
            workflow_id=row.workflow_id,
            created_at=iso_seconds(row.created_at),
            done_at=iso_seconds(row.done_at),
        )


@router.get("/api/v1alpha/projects/{project}/hook_deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    project: str,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageDep,
) -> list[DeliveryOut]:
    """Webhook deliveries and polled pushes, newest first, each with what it started or
    why it started nothing; 30 to a page with paging headers."""
    found = await projects.get_project(session, caller, project)
    rows, total = await listing.deliveries(session, found, page.offset, page.page_size)
    page.headers(request, response, total)
    return [DeliveryOut.of(row) for row in rows]
