"""Delivery: a finished pipeline's matching rules POST to a real local HTTP receiver —
Semaphore's Slack message and webhook payload, the HMAC signature header, retries after a
500, permanent failures, and the delivery log — with the notifier's run_once called
directly."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from blockpost.config import Settings
from blockpost.db.models import User
from blockpost.notify.sender import Notifier, SenderOptions
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

SIGNING_KEY = "s3cret-signing-key"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each path with its scripted statuses in turn (then 200), recording requests."""

    port: int = 0
    script: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(Received(self.path, dict(self.headers.items()), body))
            statuses = state.script.get(self.path) or [200]
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"sync_hold_seconds": 0.0, "allow_private_notification_endpoints": True}
    )


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile", "lint")))
    yield made
    await made.close()


MakeNotifier = Callable[..., Notifier]


@pytest.fixture
async def notifier(app: FastAPI) -> AsyncIterator[MakeNotifier]:
    """Notifiers whose retries are due at once (each run_once is one more attempt); each
    lets go of the leader lock at the end (on PostgreSQL it would outlive the test)."""
    made: list[Notifier] = []

    def make(*, allow_private: bool = True) -> Notifier:
        options = SenderOptions(
            server_url="https://ci.example.com",
            organization="blockpost",
            organization_id=app.state.settings.organization_id,
            allow_private=allow_private,
            backoff=0.0,
        )
        made.append(Notifier(app.state.db, app.state.sealer, options))
        return made[-1]

    yield make
    for sender in made:
        await sender.stop()


async def notify(client: httpx.AsyncClient, name: str, rule: dict[str, Any]) -> None:
    body = {"apiVersion": "v1alpha", "kind": "Notification", "metadata": {"name": name}}
    response = await client.post(f"{API}/notifications", json={**body, "spec": {"rules": [rule]}})
    assert response.status_code == 200, response.text


async def deliveries(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/notifications/{name}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


async def finish_a_pipeline(
    rig: EngineRig, results: dict[str, str] | None = None
) -> dict[str, str]:
    started = await rig.run()
    await rig.run_jobs(results)
    state = await rig.state(started["pipeline_id"])
    assert state[0] == "done", state
    return started


@pytest.fixture
async def signing_secret(admin: httpx.AsyncClient) -> str:
    response = await admin.post(
        "/api/v1beta/secrets",
        json={
            "metadata": {"name": "hook-key"},
            "data": {"env_vars": [{"name": "WEBHOOK_SECRET", "value": SIGNING_KEY}]},
        },
    )
    assert response.status_code == 200, response.text
    return "hook-key"


async def test_slack_and_signed_webhook_are_delivered_with_a_retry_after_a_500(
    notifier: MakeNotifier, rig: EngineRig, receiver: Receiver, signing_secret: str
) -> None:
    receiver.script["/hook"] = [500, 200]
    await notify(
        rig.api,
        "team",
        {
            "name": "Builds on master",
            "filter": {"projects": ["rig"], "branches": ["/^mast/"], "results": ["passed"]},
            "notify": {
                "slack": {"endpoint": receiver.url("/slack"), "channels": ["#ci", "#dev"]},
                "webhook": {"endpoint": receiver.url("/hook"), "secret": signing_secret},
            },
        },
    )
    await notify(
        rig.api,
        "elsewhere",
        {
            "filter": {"projects": ["rig"], "branches": ["release"]},
            "notify": {"webhook": {"endpoint": receiver.url("/never")}},
        },
    )
    started = await finish_a_pipeline(rig)
    log = await deliveries(rig.api, "team")
    assert sorted((d["kind"], d["channel"], d["state"], d["attempts"]) for d in log) == [
        ("slack", "#ci", "pending", 0),
        ("slack", "#dev", "pending", 0),
        ("webhook", None, "pending", 0),
    ]
    assert await deliveries(rig.api, "elsewhere") == []

    sender = notifier()
    assert await sender.run_once() == 3
    hook = next(d for d in await deliveries(rig.api, "team") if d["kind"] == "webhook")
    assert (hook["state"], hook["attempts"], hook["status_code"]) == ("pending", 1, 500)
    assert hook["error"].startswith("answered 500")
    assert await sender.run_once() == 1
    assert await sender.run_once() == 0

    final = {(d["kind"], d["channel"]): d for d in await deliveries(rig.api, "team")}
    assert {key: (d["state"], d["attempts"], d["status_code"]) for key, d in final.items()} == {
        ("slack", "#ci"): ("delivered", 1, 200),
        ("slack", "#dev"): ("delivered", 1, 200),
        ("webhook", None): ("delivered", 2, 200),
    }
    assert final[("webhook", None)]["error"] is None
    assert final[("webhook", None)]["pipeline_id"] == started["pipeline_id"]
    assert final[("webhook", None)]["rule"] == "Builds on master"

    slack = sorted((r.json() for r in receiver.at("/slack")), key=lambda b: b["channel"])
    assert [b["channel"] for b in slack] == ["#ci", "#dev"]
    attachment = slack[0]["attachments"][0]
    link = (
        f"<https://ci.example.com/workflows/{started['workflow_id']}"
        f"?pipeline_id={started['pipeline_id']}|Rig pipeline>"
    )
    assert slack[0]["username"] == "Semaphore"
    assert attachment["color"] == "#19a974"
    assert attachment["author_name"] == "rig"
    assert attachment["text"].startswith(f"admin's {link} passed — ")
    assert attachment["text"].endswith(" on master")

    attempts = receiver.at("/hook")
    assert len(attempts) == 2
    assert attempts[0].body == attempts[1].body
    first, second = attempts
    assert first.headers["X-Semaphore-Webhook-Id"] == second.headers["X-Semaphore-Webhook-Id"]
    assert first.headers["User-Agent"] == "Semaphore-Webhook"
    assert first.headers["Content-Type"] == "application/json"
    expected = hmac.new(SIGNING_KEY.encode(), second.body, hashlib.sha256).hexdigest()
    assert second.headers["X-Semaphore-Signature-256"] == expected
    payload = second.json()
    assert payload["version"] == "1.0.0"
    assert payload["project"] == {"name": "rig", "id": rig.project_id}
    assert payload["pipeline"]["id"] == started["pipeline_id"]
    assert payload["pipeline"]["yaml_file_name"] == "semaphore.yml"
    assert payload["pipeline"]["working_directory"] == ".semaphore"
    assert (payload["pipeline"]["state"], payload["pipeline"]["result"]) == ("done", "passed")
    assert payload["workflow"]["id"] == started["workflow_id"]
    assert payload["revision"]["reference"] == "refs/heads/master"
    assert payload["revision"]["reference_type"] == "branch"
    assert payload["revision"]["commit_message"] == "first"  # make_rig's one commit
    assert payload["organization"]["id"] == rig.app.state.settings.organization_id
    assert payload["revision"]["branch"] == {"name": "master", "commit_range": ""}
    assert payload["revision"]["tag"] is None
    [build] = payload["blocks"]
    assert (build["name"], build["result"]) == ("Build", "passed")
    assert [(j["name"], j["status"], j["result"]) for j in build["jobs"]] == [
        ("compile", "finished", "passed"),
        ("lint", "finished", "passed"),
    ]
    assert receiver.at("/never") == []


async def test_a_4xx_fails_at_once_and_a_5xx_fails_after_the_last_retry(
    notifier: MakeNotifier, rig: EngineRig, receiver: Receiver
) -> None:
    receiver.script["/gone"] = [404]
    receiver.script["/down"] = [503]
    await notify(
        rig.api,
        "failing",
        {
            "filter": {"projects": ["/.*/"], "results": ["failed"]},
            "notify": {
                "slack": {"endpoint": receiver.url("/gone")},
                "webhook": {"endpoint": receiver.url("/down"), "retries": 1},
            },
        },
    )
    await finish_a_pipeline(rig, {"lint": "failed"})
    sender = notifier()
    for _ in range(4):
        await sender.run_once()
    log = {d["kind"]: d for d in await deliveries(rig.api, "failing")}
    assert (log["slack"]["state"], log["slack"]["attempts"]) == ("failed", 1)
    assert log["slack"]["error"] == "answered 404: ok"
    assert (log["webhook"]["state"], log["webhook"]["attempts"]) == ("failed", 2)
    assert log["webhook"]["max_attempts"] == 2
    assert len(receiver.at("/down")) == 2
    slack_body = receiver.at("/gone")[0].json()
    assert slack_body["channel"] is None
    assert slack_body["attachments"][0]["color"] == "#f75819"


async def test_a_private_address_is_refused_when_sent_without_the_setting(
    notifier: MakeNotifier, rig: EngineRig, receiver: Receiver
) -> None:
    await notify(
        rig.api,
        "local",
        {"filter": {"projects": ["rig"]}, "notify": {"webhook": {"endpoint": receiver.url("/")}}},
    )
    await finish_a_pipeline(rig)
    await notifier(allow_private=False).run_once()
    [delivery] = await deliveries(rig.api, "local")
    assert delivery["state"] == "failed"
    assert delivery["error"] == (
        "127.0.0.1 resolves to 127.0.0.1, a private address "
        "(BLOCKPOST_ALLOW_PRIVATE_NOTIFICATION_ENDPOINTS is off)"
    )
    assert receiver.received == []


async def test_a_deleted_signing_secret_fails_the_delivery_instead_of_sending_unsigned(
    notifier: MakeNotifier, rig: EngineRig, receiver: Receiver, signing_secret: str
) -> None:
    await notify(
        rig.api,
        "signed",
        {
            "filter": {"projects": ["rig"]},
            "notify": {"webhook": {"endpoint": receiver.url("/hook"), "secret": signing_secret}},
        },
    )
    await finish_a_pipeline(rig)
    assert (await rig.api.delete(f"/api/v1beta/secrets/{signing_secret}")).status_code == 200
    await notifier().run_once()
    [delivery] = await deliveries(rig.api, "signed")
    assert delivery["state"] == "failed"
    assert delivery["error"] == "webhook secret 'hook-key': no global secret of that name"
    assert receiver.received == []


async def test_no_delivery_for_a_project_the_notifications_creator_cannot_see(
    app: FastAPI, rig: EngineRig, receiver: Receiver, make_client: Any
) -> None:
    other_admin = await make_client("carol", admin=True)
    await notify(
        other_admin,
        "carols",
        {"filter": {"projects": ["rig"]}, "notify": {"webhook": {"endpoint": receiver.url("/")}}},
    )
    async with app.state.db.session() as session:
        await session.execute(update(User).where(User.username == "carol").values(admin=False))
    await finish_a_pipeline(rig)
    assert await deliveries(rig.api, "carols") == []
