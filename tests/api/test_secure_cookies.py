"""The session cookie is Secure when the browser reached the server over https: directly over
TLS, or through a reverse proxy the operator trusts to say so (X-Forwarded-Proto)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from blockpost.serve import uvicorn_config
from tests.conftest import PASSWORD, MakeUser

PROXY = "127.0.0.1"


async def login_cookie(
    app: FastAPI,
    settings: Settings,
    *,
    peer: str = PROXY,
    base_url: str = "http://ci.example.com",
    forwarded_proto: str | None = None,
) -> str:
    """The Set-Cookie header of a login through the app as `blockpost serve` runs it."""
    config = uvicorn_config(settings, app)
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 50000))
    headers = {"X-Forwarded-Proto": forwarded_proto} if forwarded_proto else {}
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        response = await client.post(
            "/api/auth/login", json={"auth": "carol", "password": PASSWORD}, headers=headers
        )
    assert response.status_code == 204, response.text
    return response.headers["set-cookie"]


def secure(set_cookie: str) -> bool:
    return "secure" in [part.strip().lower() for part in set_cookie.split(";")]


@pytest.fixture
async def carol(make_user: MakeUser) -> None:
    await make_user("carol")


async def test_a_trusted_proxy_saying_https_gets_a_secure_cookie(
    carol: None, app: FastAPI, settings: Settings
) -> None:
    settings.forwarded_allow_ips = PROXY
    cookie = await login_cookie(app, settings, forwarded_proto="https")
    assert secure(cookie)
    assert "httponly" in cookie.lower()


async def test_a_trusted_proxy_saying_http_gets_a_plain_cookie(
    carol: None, app: FastAPI, settings: Settings
) -> None:
    settings.forwarded_allow_ips = PROXY
    assert not secure(await login_cookie(app, settings, forwarded_proto="http"))


async def test_forwarded_proto_from_an_untrusted_peer_is_ignored(
    carol: None, app: FastAPI, settings: Settings
) -> None:
    settings.forwarded_allow_ips = PROXY
    cookie = await login_cookie(app, settings, peer="127.0.0.9", forwarded_proto="https")
    assert not secure(cookie)


async def test_forwarded_proto_is_ignored_when_no_proxy_is_named(
    carol: None, app: FastAPI, settings: Settings
) -> None:
    assert not secure(await login_cookie(app, settings, forwarded_proto="https"))


async def test_a_request_that_came_over_https_gets_a_secure_cookie(
    carol: None, app: FastAPI, settings: Settings
) -> None:
    assert secure(await login_cookie(app, settings, base_url="https://ci.example.com"))
