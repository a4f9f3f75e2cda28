"""Browsers for the web UI's tests: ASGI clients logged in through the login form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, MakeUser

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
Browser = Callable[[str], Awaitable[httpx.AsyncClient]]


def csrf_of(html: str) -> str:
    """The form token a page carries (every form on a page has the same one)."""
    found = TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def submit(
    client: httpx.AsyncClient, page: str, action: str, fields: dict[str, str]
) -> httpx.Response:
    """Opens `page` as a browser would and posts a form to `action` with its token."""
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    return await client.post(action, data={"csrf_token": csrf_of(shown.text), **fields})


@pytest.fixture
async def browser(app: FastAPI, make_user: MakeUser) -> AsyncIterator[Browser]:
    """`await browser("alice")` -> a client whose user logged in with the form."""
    opened: list[httpx.AsyncClient] = []

    async def make(username: str, *, admin: bool = False) -> httpx.AsyncClient:
        await make_user(username, admin=admin)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        opened.append(client)
        answer = await submit(
            client, "/ui/login", "/ui/login", {"auth": username, "password": PASSWORD}
        )
        assert answer.status_code == 303, answer.text
        return client

    yield make
    for client in opened:
        await client.aclose()
