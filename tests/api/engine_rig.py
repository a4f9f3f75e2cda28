"""An in-process rig for engine tests: the app, a real git repository, protocol agents, and
the engine's own `run_once` called directly (no background loop, so every step is explicit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from blockpost.engine.service import Engine
from tests.api.agent_helpers import ProtocolAgent, create_type
from tests.support.gitrepo import GitRepo

API = "/api/v1alpha"


def pipeline_yaml(*blocks: str, head: str = "") -> str:
    """A v1.0 pipeline on a hosted machine type (run by the hosted agent type, s1-local)."""
    return (
        "version: v1.0\nname: Rig pipeline\n"
        "agent:\n  machine:\n    type: e1-standard-2\n    os_image: ubuntu2004\n"
        + head
        + "blocks:\n"
        + "".join(blocks)
    )


def block(name: str, *jobs: str, extra: str = "") -> str:
    """A block whose jobs are named and run `echo NAME`."""
    lines = [f"  - name: {name}\n", extra, "    task:\n      jobs:\n"]
    for job in jobs:
        lines.append(f"        - name: {job}\n          commands:\n            - echo {job}\n")
    return "".join(lines)


@dataclass
class Taken:
    id: str
    name: str
    agent: ProtocolAgent
    payload: dict[str, Any]

    async def report(self, result: str = "passed") -> None:
        answer = await self.agent.sync("finished-job", self.id, result)
        assert answer["action"] in {"continue", "run-job", "wait-for-jobs"}, answer


@dataclass
class EngineRig:
    app: FastAPI
    api: httpx.AsyncClient
    repo: GitRepo
    project_id: str
    engine: Engine
    registration_token: str
    agents: list[ProtocolAgent] = field(default_factory=list)

    async def agent(self) -> ProtocolAgent:
        agent = ProtocolAgent(self.app, self.registration_token)
        assert (await agent.register()).status_code == 201
        self.agents.append(agent)
        return agent

    async def run(self, reference: str = "refs/heads/master", **extra: str) -> dict[str, str]:
        response = await self.api.post(
            f"{API}/plumber-workflows",
            json={"project_id": self.project_id, "reference": reference, **extra},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def settle(self) -> None:
        """Engine passes until nothing changes."""
        for _ in range(50):
            if not await self.engine.run_once():
                return
        raise AssertionError("the engine kept changing things for 50 passes")

    async def pipeline(self, ppl_id: str, *, detailed: bool = True) -> dict[str, Any]:
        response = await self.api.get(
            f"{API}/pipelines/{ppl_id}", params={"detailed": str(detailed).lower()}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def state(self, ppl_id: str) -> tuple[str, str | None, str | None]:
        body = (await self.pipeline(ppl_id, detailed=False))["pipeline"]
        # Semaphore leaves result and result_reason out until the pipeline is done
        return body["state"], body.get("result"), body.get("result_reason")

    async def jobs(self, ppl_id: str) -> dict[str, dict[str, Any]]:
        """Every job of the pipeline by name, with its block's name."""
        found = {}
        for item in (await self.pipeline(ppl_id))["blocks"]:
            for job in item["jobs"]:
                found[job["name"]] = {**job, "block": item["name"]}
        return found

    async def take(self, agent: ProtocolAgent | None = None) -> Taken:
        """An agent claims the oldest queued job (the test expects one to be queued)."""
        agent = agent or (self.agents[0] if self.agents else await self.agent())
        answer = await agent.sync("waiting-for-jobs")
        assert answer["action"] == "run-job", f"no job was queued: {answer}"
        response = await agent.job(answer["job_id"])
        assert response.status_code == 200, response.text
        payload = response.json()
        return Taken(answer["job_id"], payload["job_name"], agent, payload)

    async def idle(self) -> bool:
        """True when no job is queued (a spare agent's sync comes back without one)."""
        agent = await self.agent()
        answer = await agent.sync("waiting-for-jobs")
        if answer["action"] == "run-job":
            raise AssertionError(f"a job was queued: {answer}")
        return True

    async def run_jobs(self, results: dict[str, str] | None = None, limit: int = 50) -> list[str]:
        """Takes and reports queued jobs (passed unless `results` names them) until the
        engine queues no more; returns the names, in the order they ran."""
        results = results or {}
        ran = []
        await self.settle()
        agent = await self.agent()
        for _ in range(limit):
            answer = await agent.sync("waiting-for-jobs")
            if answer["action"] != "run-job":
                return ran
            payload = (await agent.job(answer["job_id"])).json()
            name = payload["job_name"]
            await agent.sync("finished-job", answer["job_id"], results.get(name, "passed"))
            ran.append(name)
            await self.settle()
        raise AssertionError("more jobs than expected")

    async def close(self) -> None:
        for agent in self.agents:
            await agent.close()
        await self.engine.stop()


async def make_rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path, yaml: str) -> EngineRig:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({".semaphore/semaphore.yml": yaml}, "first")
    created = await admin.post(
        f"{API}/projects",
        json={"metadata": {"name": "rig"}, "spec": {"repository": {"url": repo.url}}},
    )
    assert created.status_code == 200, created.text
    token = await create_type(admin, "s1-local")
    return EngineRig(
        app=app,
        api=admin,
        repo=repo,
        project_id=created.json()["metadata"]["id"],
        engine=Engine(app.state.engine, tick=1.0),
        registration_token=token,
    )
