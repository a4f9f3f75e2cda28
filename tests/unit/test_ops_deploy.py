"""The container files as an operator relies on them: restarts, a health check that follows
the configured port, no well-known database password, ssh and pg_dump in the image."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from blockpost import healthcheck
from blockpost.config import Settings
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_every_service_restarts_unless_stopped() -> None:
    for name, service in compose()["services"].items():
        assert service["restart"] == "unless-stopped", name


def test_the_database_password_comes_from_the_operator_never_the_file() -> None:
    services = compose()["services"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    url = services["server"]["environment"]["BLOCKPOST_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://blockpost:${POSTGRES_PASSWORD:?")


def test_the_health_checks_ask_the_server_with_its_own_settings() -> None:
    server = compose()["services"]["server"]
    assert server["healthcheck"]["test"] == ["CMD", "python", "-m", "blockpost.healthcheck"]
    port = server["environment"]["BLOCKPOST_PORT"]
    assert server["ports"] == [f"{port}:{port}"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "blockpost.healthcheck"]' in dockerfile


def test_the_image_has_ssh_a_writable_known_hosts_and_pg_dump() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("openssh-client", "postgresql-client", "git", "bubblewrap"):
        assert package in dockerfile
    assert "touch /root/.ssh/known_hosts" in dockerfile
    volumes = compose()["services"]["server"]["volumes"]
    assert any(volume.startswith("data:/data") for volume in volumes)


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8000/healthz"),
        ({"host": "0.0.0.0", "port": 9100}, "http://127.0.0.1:9100/healthz"),
        ({"host": "10.1.2.3", "port": 8443}, "http://10.1.2.3:8443/healthz"),
        ({"host": "::1"}, "http://[::1]:8000/healthz"),
    ],
)
def test_the_health_url_follows_the_settings(env: dict, url: str) -> None:
    assert healthcheck.health_url(Settings(**env)) == url


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def answering_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()


def test_healthcheck_exits_0_when_the_port_answers_and_1_when_not(
    answering_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLOCKPOST_HOST", "127.0.0.1")
    monkeypatch.setenv("BLOCKPOST_PORT", str(answering_port))
    assert healthcheck.main() == 0
    monkeypatch.setenv("BLOCKPOST_PORT", str(free_port()))
    assert healthcheck.main() == 1
