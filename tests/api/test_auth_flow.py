"""Login -> session cookie -> API tokens -> Token/Bearer auth -> expiry, through the ASGI app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.conftest import PASSWORD, MakeUser


@asynccontextmanager
async def login(app: FastAPI, auth: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.post("/api/auth/login", json={"auth": auth, "password": PASSWORD})
        assert response.status_code == 204, response.text
        yield client


async def test_login_sets_an_httponly_cookie_that_creates_tokens(
    app: FastAPI, make_user: MakeUser
) -> None:
    user = await make_user("carol", email="carol@example.com")
    async with login(app, "carol@example.com") as browser:
        cookie = browser.cookies.get("blockpost_session")
        assert cookie
        created = await browser.post("/api/user/tokens")
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "created", "expired", "user_id"}
    assert body["expired"] is False
    assert body["user_id"] == user.id
    assert body["created"].endswith("Z")
    assert "T" in body["created"]
    assert "." not in body["created"]

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as api:
        for scheme in ("Token", "Bearer", "bearer"):
            me = await api.get("/api/user", headers={"Authorization": f"{scheme} {body['id']}"})
            assert me.status_code == 200, scheme
            assert me.json()["username"] == "carol"


async def test_set_cookie_header_is_httponly(app: FastAPI, make_user: MakeUser) -> None:
    await make_user("dave")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.post("/api/auth/login", data={"auth": "dave", "password": PASSWORD})
    assert response.status_code == 204
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header
    assert "samesite=lax" in header


async def test_wrong_password_and_unknown_login_get_the_same_401(
    anon: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("erin")
    wrong = await anon.post("/api/auth/login", json={"auth": "erin", "password": "nope-nope"})
    unknown = await anon.post("/api/auth/login", json={"auth": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"message": "wrong login or password"}
    assert "set-cookie" not in wrong.headers


async def test_deleting_a_token_expires_it_and_it_then_gets_401(
    app: FastAPI, make_user: MakeUser
) -> None:
    await make_user("frank")
    async with login(app, "frank") as browser:
        token = (await browser.post("/api/user/tokens")).json()["id"]
        headers = {"Authorization": f"Bearer {token}"}
        deleted = await browser.delete(f"/api/user/tokens/{token}", headers=headers)
        assert deleted.status_code == 204
        after = await browser.get("/api/user", headers=headers)
    assert after.status_code == 401
    assert after.json() == {"message": "API token has expired"}


async def test_token_list_names_tokens_by_public_id_and_delete_accepts_it(
    app: FastAPI, make_user: MakeUser
) -> None:
    await make_user("gina")
    async with login(app, "gina") as browser:
        first = (await browser.post("/api/user/tokens")).json()["id"]
        second = (await browser.post("/api/user/tokens")).json()["id"]
        listed = (await browser.get("/api/user/tokens")).json()
        assert len(listed) == 2
        public_ids = [entry["id"] for entry in listed]
        assert first not in public_ids
        assert second not in public_ids
        assert all(len(pid) == 16 for pid in public_ids)
        assert (await browser.delete(f"/api/user/tokens/{public_ids[0]}")).status_code == 204
        after = (await browser.get("/api/user/tokens")).json()
    assert [entry["expired"] for entry in after] == [True, False]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as api:
        assert (
            await api.get("/api/user", headers={"Authorization": f"Token {first}"})
        ).status_code == 401
        assert (
            await api.get("/api/user", headers={"Authorization": f"Token {second}"})
        ).status_code == 200


async def test_a_user_cannot_expire_another_users_token(app: FastAPI, make_user: MakeUser) -> None:
    await make_user("hank")
    await make_user("ida")
    async with login(app, "hank") as hank, login(app, "ida") as ida:
        token = (await hank.post("/api/user/tokens")).json()["id"]
        refused = await ida.delete(f"/api/user/tokens/{token}")
        assert refused.status_code == 404
        assert (
            await hank.get("/api/user", headers={"Authorization": f"Token {token}"})
        ).status_code == 200


async def test_logout_ends_the_session(app: FastAPI, make_user: MakeUser) -> None:
    await make_user("jack")
    async with login(app, "jack") as browser:
        cookie = browser.cookies["blockpost_session"]
        assert (await browser.post("/api/auth/logout")).status_code == 204
        browser.cookies.set("blockpost_session", cookie)
        after = await browser.get("/api/user")
    assert after.status_code == 401


async def test_bad_login_bodies_name_the_field(anon: httpx.AsyncClient) -> None:
    cases = [
        ({"auth": 5, "password": "x"}, "auth: Input should be a valid string"),
        ({"auth": "", "password": "x"}, "auth: String should have at least 1 character"),
        ({"auth": "a", "password": "x" * 1025}, "password: String should have at most 1024"),
        ({"auth": "a"}, "password: is required"),
        ({"auth": ["a"], "password": "x", "remember": True}, "auth: Input should be a valid"),
    ]
    for body, message in cases:
        response = await anon.post("/api/auth/login", json=body)
        assert response.status_code == 400, body
        assert response.json()["message"].startswith(message), response.json()


async def test_repeated_failed_logins_are_refused_with_429_until_the_window_passes(
    app: FastAPI, anon: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("carol")
    limiter = app.state.login_limiter
    now = [1000.0]
    limiter.clock = lambda: now[0]
    wrong = {"auth": "carol", "password": "not-her-password"}
    for _ in range(5):
        assert (await anon.post("/api/auth/login", json=wrong)).status_code == 401
    refused = await anon.post("/api/auth/login", json={**wrong, "password": PASSWORD})
    assert refused.status_code == 429  # even the right password waits
    assert int(refused.headers["retry-after"]) == 300
    assert "too many failed logins" in refused.json()["message"]
    now[0] += 301
    assert (
        await anon.post("/api/auth/login", json={**wrong, "password": PASSWORD})
    ).status_code == 204
    # the address is limited too: five failures across usernames
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert (
            await anon.post("/api/auth/login", json={"auth": name, "password": "x"})
        ).status_code == 401
    other = await anon.post("/api/auth/login", json={"auth": "carol", "password": PASSWORD})
    assert other.status_code == 429


async def attempt(app: FastAPI, address: str, auth: str, password: str) -> int:
    """A login from its own client address."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/auth/login", json={"auth": auth, "password": password})
        return response.status_code


async def test_failed_logins_count_per_user_whichever_spelling_names_it(
    app: FastAPI, make_user: MakeUser
) -> None:
    await make_user("carol", email="carol@example.com")
    spellings = ["carol", "carol@example.com", "CAROL", "Carol@Example.COM", "carol"]
    for n, spelling in enumerate(spellings):
        assert await attempt(app, f"10.0.0.{n}", spelling, "wrong-password") == 401
    assert await attempt(app, "10.0.1.1", "carol", PASSWORD) == 429
    assert await attempt(app, "10.0.1.2", "CaRoL@example.com", PASSWORD) == 429
    await make_user("dave")
    assert await attempt(app, "10.0.1.3", "dave", PASSWORD) == 204


async def test_a_login_naming_no_user_counts_against_its_address_and_its_spelling(
    app: FastAPI, make_user: MakeUser
) -> None:
    await make_user("erin")
    for n in range(5):
        assert await attempt(app, f"10.0.2.{n}", "Nobody", "x") == 401
    assert await attempt(app, "10.0.3.1", "nobody", "x") == 429
    for n in range(5):
        assert await attempt(app, "10.0.4.1", f"ghost-{n}", "x") == 401
    assert await attempt(app, "10.0.4.1", "erin", PASSWORD) == 429
    assert await attempt(app, "10.0.4.2", "erin", PASSWORD) == 204
