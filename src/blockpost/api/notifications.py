"""Notifications (`/api/v1alpha/notifications`), and their delivery log (ours)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from blockpost.api.deps import AdminDep, SealerDep, SessionDep, SettingsDep
from blockpost.api.pagination import Page, PageDep
from blockpost.api.request_model import RequestModel
from blockpost.config import Settings
from blockpost.db.models import Notification, NotificationDelivery
from blockpost.services import notifications
from blockpost.services.notifications import Policy, SentNotification
from blockpost.timefmt import epoch_str, iso_seconds

router = APIRouter(prefix="/api/v1alpha/notifications", tags=["notifications"])
Patterns = Annotated[list[str], Field(max_length=100)]


class FilterIn(RequestModel):
    projects: Patterns = []
    branches: Patterns = []
    tags: Patterns = []
    pipelines: Patterns = []
    blocks: Patterns = []
    states: Patterns = []
    results: Patterns = []


class SlackIn(RequestModel):
    endpoint: str = Field(default="", max_length=2048)
    channels: Patterns = []
    message: str = Field(default="", max_length=10_000)


class EmailIn(RequestModel):
    subject: str = Field(default="", max_length=1000)
    cc: Patterns = []
    bcc: Patterns = []
    content: str = Field(default="", max_length=10_000)


class WebhookIn(RequestModel):
    endpoint: str = Field(default="", max_length=2048)
    timeout: int = 0
    action: str = Field(default="", max_length=16)
    retries: int = 0
    secret: str = Field(default="", max_length=255)


class NotifyIn(RequestModel):
    slack: SlackIn = SlackIn()
    email: EmailIn = EmailIn()
    webhook: WebhookIn = WebhookIn()


class RuleIn(RequestModel):
    name: str = Field(default="", max_length=255)
    filter: FilterIn = FilterIn()
    notify: NotifyIn = NotifyIn()


class SpecIn(RequestModel):
    rules: Annotated[list[RuleIn], Field(max_length=50)] | None = None


class MetadataIn(RequestModel):
    name: str = Field(default="", max_length=255)


class NotificationIn(RequestModel):
    """As `sem create notification` and `sem create -f` / `sem apply -f` / `sem edit` send it."""

    metadata: MetadataIn = MetadataIn()
    spec: SpecIn = SpecIn()

    def sent(self) -> SentNotification:
        rules = None if self.spec.rules is None else [r.model_dump() for r in self.spec.rules]
        return SentNotification(self.metadata.name, rules)


def _policy(settings: Settings) -> Policy:
    return Policy(allow_private_endpoints=settings.allow_private_notification_endpoints)


def _out(notification: Notification) -> dict[str, Any]:
    return {
        "apiVersion": "v1alpha",
        "kind": "Notification",
        "metadata": {
            "name": notification.name,
            "id": notification.id,
            "create_time": epoch_str(notification.created_at),
            "update_time": epoch_str(notification.updated_at),
        },
        "spec": {"rules": notification.rules},
        # failures stay empty: the sem CLI cannot read Semaphore's `message` in them (its
        # model declares it `,string`); the delivery log is at .../deliveries
        "status": {"failures": []},
    }


def _delivery_out(delivery: NotificationDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "pipeline_id": delivery.pipeline_id,
        "rule": delivery.rule_name,
        "kind": delivery.kind,
        "endpoint": delivery.endpoint,
        "channel": delivery.channel,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "max_attempts": delivery.max_attempts,
        "status_code": delivery.status_code,
        "error": delivery.error or None,
        "created_at": iso_seconds(delivery.created_at),
        "next_attempt_at": iso_seconds(delivery.next_attempt_at)
        if delivery.state == "pending"
        else None,
        "finished_at": iso_seconds(delivery.finished_at),
    }


def _paged(page: Page, request: Request, response: Response, total: int) -> str:
    """Writes the paging headers; returns the `next_page_token` (the next page's number)."""
    page.headers(request, response, total)
    return str(page.page + 1) if page.page * page.page_size < total else ""


def _from_token(page: Page, page_token: str | None) -> Page:
    """`page_token` (what `sem` sends) is the page number a list gave as next_page_token."""
    if page_token and page_token.isdigit() and 0 < int(page_token) <= 1_000_000:
        return Page(page=int(page_token), page_size=page.page_size)
    return page


@router.get("")
async def list_notifications(
    request: Request,
    response: Response,
    session: SessionDep,
    _admin: AdminDep,
    page: PageDep,
    page_token: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """Every notification, by name (administrators)."""
    page = _from_token(page, page_token)
    rows, total = await notifications.list_notifications(session, page.offset, page.page_size)
    token = _paged(page, request, response, total)
    return {"notifications": [_out(row) for row in rows], "next_page_token": token}


@router.post("")
async def create_notification(
    body: NotificationIn,
    session: SessionDep,
    sealer: SealerDep,
    settings: SettingsDep,
    caller: AdminDep,
) -> dict[str, Any]:
    """Administrators; its deliveries go for the projects the caller can see."""
    created = await notifications.create(session, sealer, _policy(settings), caller, body.sent())
    return _out(created)


@router.get("/{id_or_name}")
async def describe_notification(
    id_or_name: str, session: SessionDep, _admin: AdminDep
) -> dict[str, Any]:
    return _out(await notifications.find(session, id_or_name))


async def _update(
    id_or_name: str,
    body: NotificationIn,
    session: SessionDep,
    sealer: SealerDep,
    settings: SettingsDep,
    caller: AdminDep,
) -> dict[str, Any]:
    """Renames it when `metadata.name` is sent; replaces its rules when `spec.rules` is."""
    changed = await notifications.update(
        session, sealer, _policy(settings), caller, id_or_name, body.sent()
    )
    return _out(changed)


router.patch("/{id_or_name}", name="update_notification")(_update)
router.put("/{id_or_name}", name="replace_notification")(_update)


@router.delete("/{id_or_name}")
async def delete_notification(
    id_or_name: str, session: SessionDep, _admin: AdminDep
) -> dict[str, Any]:
    await notifications.delete(session, id_or_name)
    return {}


@router.get("/{id_or_name}/deliveries")
async def list_deliveries(
    id_or_name: str,
    request: Request,
    response: Response,
    session: SessionDep,
    _admin: AdminDep,
    page: PageDep,
) -> dict[str, Any]:
    """blockpost's own: the notification's deliveries, newest first, with each one's state
    (pending, delivered, failed), attempts, last status code and last error."""
    notification = await notifications.find(session, id_or_name)
    rows, total = await notifications.deliveries(session, notification, page.offset, page.page_size)
    page.headers(request, response, total)
    return {"deliveries": [_delivery_out(row) for row in rows]}
