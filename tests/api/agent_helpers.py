"""Test helpers that speak the agent protocol over HTTP, as an agent would."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from blockpost.db.engine import Database
from blockpost.dispatch import queue
from blockpost.dispatch.queue import JobSpec

AGENT_API = "/api/v1/self_hosted_agents"


class ProtocolAgent:
    """One agent: registers with a type token, then syncs with its own token."""

    def __init__(self, app: FastAPI, registration_token: str, name: str = "") -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30
        )
        self.registration_token = registration_token
        self.name = name
        self.token = ""

    async def register(self, **fields: Any) -> httpx.Response:
        response = await self.client.post(
            f"{AGENT_API}/register",
            json={
                "name": self.name,
                "version": "v2.2.6",
                "pid": 14,
                "os": "Ubuntu",
                "arch": "x86_64",
                "hostname": "host1",
                **fields,
            },
            headers={"Authorization": f"Token {self.registration_token}"},
        )
        if response.status_code == 201:
            self.name = response.json()["name"]
            self.token = response.json()["token"]
        return response

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    async def sync(self, state: str, job_id: str = "", job_result: str = "") -> dict[str, Any]:
        response = await self.client.post(
            f"{AGENT_API}/sync",
            json={"state": state, "job_id": job_id, "job_result": job_result, "interrupted_at": 0},
            headers=self.auth(),
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def job(self, job_id: str) -> httpx.Response:
        return await self.client.get(f"{AGENT_API}/jobs/{job_id}", headers=self.auth())

    async def close(self) -> None:
        await self.client.aclose()


async def create_type(admin: httpx.AsyncClient, name: str = "s1-test") -> str:
    response = await admin.post(
        "/api/v1alpha/self_hosted_agent_types", json={"metadata": {"name": name}}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"]["registration_token"])


async def enqueue(app: FastAPI, spec: JobSpec) -> str:
    db: Database = app.state.db
    async with db.session() as session:
        job = await queue.enqueue(session, app.state.wakeups, spec)
        return job.id


async def agent_running(
    app: FastAPI, admin: httpx.AsyncClient, spec: JobSpec, name: str = ""
) -> tuple[ProtocolAgent, str]:
    """A registered agent that has just been told to run a freshly queued job."""
    agent = ProtocolAgent(app, await create_type(admin), name)
    assert (await agent.register()).status_code == 201
    job_id = await enqueue(app, spec)
    answer = await agent.sync("waiting-for-jobs")
    assert (answer["action"], answer["job_id"]) == ("run-job", job_id)
    return agent, job_id
