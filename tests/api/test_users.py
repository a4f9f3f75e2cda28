"""`/api/user` and the administrators' `/api/users`."""

import httpx
import pytest

from tests.conftest import PASSWORD


async def test_current_user_describes_the_caller(alice: httpx.AsyncClient) -> None:
    me = (await alice.get("/api/user")).json()
    assert set(me) == {"id", "uuid", "username", "name", "email", "admin", "created"}
    assert (me["username"], me["admin"], me["email"]) == ("alice", False, None)


async def test_admin_creates_a_user_who_can_then_log_in(
    admin: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    created = await admin.post(
        "/api/users",
        json={"username": "newbie", "password": PASSWORD, "email": "n@example.com", "name": "New"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["admin"] is False
    login = await anon.post("/api/auth/login", json={"auth": "newbie", "password": PASSWORD})
    assert login.status_code == 204
    listed = await admin.get("/api/users")
    assert [u["username"] for u in listed.json()] == ["admin", "newbie"]
    assert 'rel="first"' in listed.headers["link"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"username": "admin", "password": PASSWORD}, 409, "username: a user with this username"),
        ({"username": "x y", "password": PASSWORD}, 400, "username: must be"),
        ({"username": "12345", "password": PASSWORD}, 400, "username: must be"),
        ({"username": "trailing\n", "password": PASSWORD}, 400, "username: must be"),
        ({"username": "short", "password": "123"}, 400, "password: must be 8 to 1024"),
        (
            {"username": "mail", "password": PASSWORD, "email": "no-at"},
            400,
            "email: is not an email",
        ),
        ({"password": PASSWORD}, 400, "username: is required"),
        ({"username": "n", "password": PASSWORD, "admin": "maybe"}, 400, "admin: Input should be"),
    ],
)
async def test_bad_user_bodies_are_refused_and_store_nothing(
    admin: httpx.AsyncClient, body: dict, status: int, message: str
) -> None:
    response = await admin.post("/api/users", json=body)
    assert response.status_code == status, response.text
    assert response.json()["message"].startswith(message)
    assert [u["username"] for u in (await admin.get("/api/users")).json()] == ["admin"]


async def test_duplicate_email_conflicts(admin: httpx.AsyncClient) -> None:
    first = {"username": "one", "password": PASSWORD, "email": "same@example.com"}
    assert (await admin.post("/api/users", json=first)).status_code == 201
    second = {**first, "username": "two"}
    clash = await admin.post("/api/users", json=second)
    assert clash.status_code == 409
    assert clash.json() == {"message": "email: a user with this email already exists"}
