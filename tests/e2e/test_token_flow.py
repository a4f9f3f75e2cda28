"""The token guide's curl sequence, step by step, against a real `blockpost serve` process."""

import re
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def test_login_create_token_use_it_then_expire_it(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(database_url, tmp_path / "data", admin_password="first-start-pw").start()
    try:
        # curl -c /tmp/semaphore-cookie -XPOST -d '{"auth": ..., "password": ...}' /api/auth/login
        with httpx.Client(base_url=server.url) as browser:
            login = browser.post(
                "/api/auth/login",
                headers=JSON_HEADERS,
                json={"auth": "admin", "password": "first-start-pw"},
            )
            assert login.status_code == 204
            assert "blockpost_session" in browser.cookies
            # curl -b /tmp/semaphore-cookie -XPOST /api/user/tokens
            created = browser.post("/api/user/tokens", headers=JSON_HEADERS)
        assert created.status_code == 201
        token = created.json()
        assert token["expired"] is False
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", token["created"])
        assert isinstance(token["user_id"], int)

        bearer = {**JSON_HEADERS, "Authorization": f"Bearer {token['id']}"}
        with httpx.Client(base_url=server.url) as api:
            assert api.get("/api/v1alpha/projects", headers=bearer).status_code == 200
            assert api.get("/api/user", headers=bearer).json()["id"] == token["user_id"]
            # curl -XDELETE -H 'Authorization: Bearer TOKEN' /api/user/tokens/TOKEN
            assert api.delete(f"/api/user/tokens/{token['id']}", headers=bearer).status_code == 204
            refused = api.get("/api/v1alpha/projects", headers=bearer)
        assert refused.status_code == 401
        assert refused.json() == {"message": "API token has expired"}
    finally:
        server.stop()


def test_first_start_prints_a_generated_admin_password_once(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = ServerProcess(database_url, data_dir, admin_password="").start()
    first.stop()
    printed = re.search(r"login:\s+admin / (\S+)\s+\(created now", first.output())
    assert printed, first.output()
    assert f"data dir:  {data_dir.resolve()}" in first.output()
    assert (data_dir / "secret.key").stat().st_mode & 0o777 == 0o600

    second = ServerProcess(database_url, data_dir, admin_password="").start()
    try:
        assert printed.group(1) not in second.output()
        login = httpx.post(
            f"{second.url}/api/auth/login", json={"auth": "admin", "password": printed.group(1)}
        )
        assert login.status_code == 204
    finally:
        second.stop()


@pytest.mark.parametrize("trusted", [True, False], ids=["behind-a-named-proxy", "direct"])
def test_login_limit_counts_the_forwarded_client_only_behind_a_named_proxy(
    trusted: bool, db: Database, database_url: str, tmp_path: Path
) -> None:
    """Behind a proxy every login comes from its address: unless the operator names it,
    five failures from anyone would lock everyone out (and naming none, a client cannot
    choose the address it is counted as)."""
    env = {"BLOCKPOST_FORWARDED_ALLOW_IPS": "127.0.0.1"} if trusted else {}
    server = ServerProcess(database_url, tmp_path / "data", extra_env=env).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            for attempt in range(5):
                failed = client.post(
                    "/api/auth/login",
                    headers={"X-Forwarded-For": "203.0.113.7"},
                    json={"auth": f"nobody-{attempt}", "password": "wrong"},
                )
                assert failed.status_code == 401
            other = client.post(
                "/api/auth/login",
                headers={"X-Forwarded-For": "198.51.100.9"},
                json={"auth": "admin", "password": server.admin_password},
            )
    finally:
        server.stop()
    assert other.status_code == (204 if trusted else 429)
