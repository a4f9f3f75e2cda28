"""Semaphore's official agent (v2.4), request by request, byte for byte as its Go client
sends them (pkg/listener/selfhostedapi/*.go, pkg/eventlogger/httpbackend.go): header set
and order, no Content-Type on JSON bodies, `Content-Length: 0` on empty POSTs, and the
autoscalers' metrics calls. Sent over a raw socket, so no client library adds anything."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
USER_AGENT = "SemaphoreAgent/v2.4.0"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return dict(json.loads(self.body))


@dataclass
class Wire:
    server: ServerProcess
    api: httpx.Client
    registration_token: str

    def send(
        self,
        method: str,
        target: str,
        authorization: str,
        body: bytes | None = None,
        extra: tuple[str, ...] = (),
    ) -> Reply:
        """One request as Go's net/http writes it: Host, User-Agent, Content-Length (POST
        only), the client's headers in key order, Accept-Encoding."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{self.server.port}"]
        lines.append(f"User-Agent: {USER_AGENT}")
        if method == "POST":
            lines.append(f"Content-Length: {len(body or b'')}")
        lines += [f"Authorization: {authorization}", *extra, "Accept-Encoding: gzip"]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as conn:
            conn.sendall(raw)
            return _read_reply(conn)

    def register(self, name: str, **extra: str) -> Reply:
        body = {
            "name": name,
            "version": "v2.4.0",
            "pid": 21581,
            "os": "",
            "arch": "x86_64",
            "hostname": "vm",
            "single_job": False,
            "idle_timeout": 0,
            "interruption_grace_period": 0,
            "job_id": "",
        }
        return self.send(
            "POST",
            "/api/v1/self_hosted_agents/register",
            f"Token {self.registration_token}",
            _go_json(body),
            tuple(f"{k}: {v}" for k, v in extra.items()),
        )

    def sync(self, token: str, state: str, job_id: str = "", result: str = "") -> Reply:
        body = {"state": state, "job_id": job_id, "job_result": result, "interrupted_at": 0}
        return self.send(
            "POST", "/api/v1/self_hosted_agents/sync", f"Token {token}", _go_json(body)
        )

    def queue_job(self) -> str:
        project = self.api.get("/api/v1alpha/projects/wire").json()["metadata"]["id"]
        created = self.api.post(
            "/api/v1alpha/jobs",
            json={
                "metadata": {"name": "wire"},
                "spec": {
                    "project_id": project,
                    "agent": {"machine": {"type": "s1-wire"}},
                    "commands": ["echo on the wire"],
                },
            },
        )
        assert created.status_code == 200, created.text
        return str(created.json()["metadata"]["id"])


def _go_json(value: dict) -> bytes:
    """encoding/json: no spaces, keys in struct order."""
    return json.dumps(value, separators=(",", ":")).encode()


def _read_reply(conn: socket.socket) -> Reply:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed mid-headers: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return Reply(int(status_line.split()[1]), headers, body)


@pytest.fixture(scope="module")
def wire(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    data_dir: Path = tmp_path_factory.mktemp("wire") / "data"
    env = {"BLOCKPOST_SYNC_HOLD_SECONDS": "0.5"}
    server = ServerProcess(database_url, data_dir, extra_env=env).start()
    try:
        with server.admin_client() as api:
            made = api.post(
                "/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": "s1-wire"}}
            )
            assert made.status_code == 200, made.text
            project = api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "wire"}, "spec": {"repository": {"url": "/srv"}}},
            )
            assert project.status_code == 200, project.text
            yield Wire(server, api, made.json()["status"]["registration_token"])
    finally:
        server.stop()


def test_register_without_a_content_type_is_accepted(wire: Wire) -> None:
    reply = wire.register("official-agent-1")
    assert reply.status == 201, reply.body
    assert set(reply.json()) == {"name", "token"}
    assert reply.json()["name"] == "official-agent-1"


def test_register_with_a_text_content_type_is_accepted_too(wire: Wire) -> None:
    reply = wire.register("official-agent-2", **{"Content-Type": "text/plain"})
    assert reply.status == 201, reply.body


def test_sync_without_a_content_type_answers_the_four_fields(wire: Wire) -> None:
    token = wire.register("official-agent-3").json()["token"]
    reply = wire.sync(token, "waiting-for-jobs")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    answer = reply.json()
    assert set(answer) == {"action", "job_id", "shutdown_reason", "next_sync_after"}
    assert answer["action"] == "continue"
    assert isinstance(answer["next_sync_after"], int)


def test_a_job_runs_through_fetch_log_push_refresh_and_finish(wire: Wire) -> None:
    token = wire.register("official-agent-4").json()["token"]
    job_id = wire.queue_job()
    deadline = time.monotonic() + 10
    while (answer := wire.sync(token, "waiting-for-jobs").json())["action"] != "run-job":
        assert time.monotonic() < deadline, answer
    assert answer["job_id"] == job_id

    fetched = wire.send("GET", f"/api/v1/self_hosted_agents/jobs/{job_id}", f"Token {token}")
    assert fetched.status == 200, fetched.body
    payload = fetched.json()
    assert payload["logger"]["method"] == "push"
    assert payload["job_id"] == job_id
    log_url = httpx.URL(payload["logger"]["url"])
    assert log_url.host == "127.0.0.1"
    events = [
        {"event": "job_started", "timestamp": 1796130184},
        {"event": "cmd_started", "timestamp": 1796130185, "directive": "echo on the wire"},
        {"event": "cmd_output", "timestamp": 1796130185, "output": "on the wire\n"},
    ]
    lines = b"".join(_go_json(event) + b"\n" for event in events)
    push = wire.send(
        "POST",
        f"{log_url.path}?start_from=0",
        f"Bearer {payload['logger']['token']}",
        lines,
        ("Content-Type: text/plain",),
    )
    assert push.status == 200, push.body

    assert wire.sync(token, "running-job", job_id).status == 200
    refreshed = wire.send("POST", "/api/v1/self_hosted_agents/refresh", f"Token {token}", b"")
    assert refreshed.status == 200, refreshed.body
    new_token = refreshed.json()["token"]
    stale = wire.send(
        "POST", f"{log_url.path}?start_from=3", f"Bearer {payload['logger']['token']}", b"",
        ("Content-Type: text/plain",),
    )  # fmt: skip
    assert stale.status == 401  # the agent refreshes on 401, then pushes again
    finished_event = _go_json(
        {"event": "job_finished", "timestamp": 1796130186, "result": "passed"}
    )
    again = wire.send(
        "POST", f"{log_url.path}?start_from=3", f"Bearer {new_token}", finished_event + b"\n",
        ("Content-Type: text/plain",),
    )  # fmt: skip
    assert again.status == 200, again.body

    finished = wire.sync(token, "finished-job", job_id, "passed")
    assert finished.status == 200, finished.body
    assert finished.json()["action"] in {"continue", "wait-for-jobs"}
    job = wire.api.get(f"/api/v1alpha/jobs/{job_id}").json()
    assert (job["status"]["state"], job["status"]["result"]) == ("FINISHED", "PASSED")
    assert wire.api.get(f"/jobs/{job_id}/plain_logs.json").text == "echo on the wire\non the wire\n"


def test_disconnect_with_an_empty_body_is_accepted(wire: Wire) -> None:
    token = wire.register("official-agent-5").json()["token"]
    reply = wire.send("POST", "/api/v1/self_hosted_agents/disconnect", f"Token {token}", b"")
    assert reply.status == 200, reply.body
    assert wire.sync(token, "waiting-for-jobs").status == 404


@pytest.mark.parametrize("path", ["metrics", "occupancy"])
def test_autoscalers_read_how_busy_the_type_is(wire: Wire, path: str) -> None:
    """As agent-aws-stack's scaler asks (`Agent: aws-dynamic-scaler`, the type's token)."""
    wire.register("official-agent-6")
    queued = wire.queue_job()
    reply = wire.send(
        "GET",
        f"/api/v1/self_hosted_agents/{path}",
        f"Token {wire.registration_token}",
        extra=("Agent: aws-dynamic-scaler", "Content-Type: application/json"),
    )
    assert reply.status == 200, reply.body
    counts = reply.json()
    jobs = counts["jobs"] if path == "metrics" else counts
    assert jobs["queued"] >= 1
    assert set(jobs) == {"queued", "running"}
    if path == "metrics":
        assert set(counts["agents"]) == {"idle", "occupied"}
        assert counts["agents"]["idle"] >= 1
    assert wire.api.post(f"/api/v1alpha/jobs/{queued}/stop").status_code == 200
    wrong = wire.send("GET", f"/api/v1/self_hosted_agents/{path}", "Token not-a-type-token")
    assert wrong.status == 404
