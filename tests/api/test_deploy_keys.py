"""A project's deploy key, HTTPS credential and known hosts through the API: what is shown,
what never is, and who may manage them."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from blockpost.db.engine import Database
from blockpost.db.models import Project
from tests.api.test_projects import PROJECTS, create
from tests.support.sshd import fingerprint_of

HOST_KEY = (
    "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
)
HOST_FINGERPRINT = "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU"


async def _stored(db: Database, name: str) -> Project:
    async with db.session() as session:
        project = await session.scalar(select(Project).where(Project.name == name))
        assert project is not None
        return project


async def test_a_deploy_key_is_made_shown_by_its_public_half_and_removed(
    alice: httpx.AsyncClient, db: Database, tmp_path: Path
) -> None:
    await create(alice, "private", url="git@git.example.com:team/app.git")
    assert (await alice.get(f"{PROJECTS}/private/deploy_key")).status_code == 404
    made = await alice.post(f"{PROJECTS}/private/deploy_key")
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["public_key"].startswith("ssh-ed25519 AAAA")
    assert body["public_key"].endswith(" blockpost-private")
    (tmp_path / "key.pub").write_text(body["public_key"] + "\n")
    assert fingerprint_of(tmp_path / "key.pub") == body["fingerprint"]
    assert body["known_hosts"] == []
    assert (await alice.get(f"{PROJECTS}/private/deploy_key")).json() == body
    stored = await _stored(db, "private")
    assert "PRIVATE KEY" not in stored.deploy_key  # sealed
    described = await alice.get(f"{PROJECTS}/private")
    assert "PRIVATE" not in described.text
    assert stored.deploy_key not in described.text

    again = (await alice.post(f"{PROJECTS}/private/deploy_key")).json()
    assert again["public_key"] != body["public_key"]
    assert (await alice.delete(f"{PROJECTS}/private/deploy_key")).status_code == 200
    assert (await alice.get(f"{PROJECTS}/private/deploy_key")).status_code == 404
    assert (await _stored(db, "private")).deploy_key == ""


async def test_only_the_owner_or_an_administrator_manages_credentials(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    await create(alice, "guarded")
    await alice.post(f"{PROJECTS}/guarded/members", json={"username": "bob"})
    for method, path, body in (
        ("POST", "deploy_key", None),
        ("GET", "deploy_key", None),
        ("DELETE", "deploy_key", None),
        ("PUT", "https_credential", {"username": "u", "token": "t"}),
        ("GET", "https_credential", None),
        ("PUT", "known_hosts", {"known_hosts": HOST_KEY}),
    ):
        answer = await bob.request(method, f"{PROJECTS}/guarded/{path}", json=body)
        assert answer.status_code == 403, (method, path, answer.text)
    assert (await admin.post(f"{PROJECTS}/guarded/deploy_key")).status_code == 200


async def test_the_https_credential_shows_its_username_and_never_its_token(
    alice: httpx.AsyncClient, db: Database
) -> None:
    await create(alice, "tokens")
    put = await alice.put(
        f"{PROJECTS}/tokens/https_credential",
        json={"username": "ci-bot", "token": "glpat-s3cr3t-value"},
    )
    assert put.status_code == 200
    assert put.json() == {"username": "ci-bot"}
    got = await alice.get(f"{PROJECTS}/tokens/https_credential")
    assert got.json() == {"username": "ci-bot"}
    assert "s3cr3t" not in (await _stored(db, "tokens")).https_credential
    bad = await alice.put(
        f"{PROJECTS}/tokens/https_credential", json={"username": "ci-bot", "token": "a\nb"}
    )
    assert bad.status_code == 400
    assert bad.json()["message"] == "token: must not contain control characters or line breaks"
    assert (await alice.delete(f"{PROJECTS}/tokens/https_credential")).status_code == 200
    assert (await alice.get(f"{PROJECTS}/tokens/https_credential")).status_code == 404


async def test_known_hosts_given_up_front_are_shown_with_their_fingerprints(
    alice: httpx.AsyncClient, app: FastAPI
) -> None:
    await create(alice, "hosts", url="git@github.com:team/app.git")
    put = await alice.put(
        f"{PROJECTS}/hosts/known_hosts", json={"known_hosts": f"# GitHub\n{HOST_KEY}"}
    )
    assert put.status_code == 200, put.text
    shown = [{"host": "github.com", "type": "ssh-ed25519", "fingerprint": HOST_FINGERPRINT}]
    assert put.json() == {"known_hosts": shown}
    assert (await alice.get(f"{PROJECTS}/hosts/known_hosts")).json() == {"known_hosts": shown}
    await alice.post(f"{PROJECTS}/hosts/deploy_key")
    assert (await alice.get(f"{PROJECTS}/hosts/deploy_key")).json()["known_hosts"] == shown

    mislabelled = HOST_KEY.replace("ssh-ed25519", "ssh-rsa")
    bad = await alice.put(f"{PROJECTS}/hosts/known_hosts", json={"known_hosts": mislabelled})
    assert bad.status_code == 400
    assert bad.json()["message"] == "known_hosts: line 1: the key is ssh-ed25519, not ssh-rsa"
    assert (await alice.get(f"{PROJECTS}/hosts/known_hosts")).json() == {"known_hosts": shown}
    assert (await alice.delete(f"{PROJECTS}/hosts/known_hosts")).status_code == 200
    assert (await alice.get(f"{PROJECTS}/hosts/known_hosts")).json() == {"known_hosts": []}
