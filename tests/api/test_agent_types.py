"""Agent types and agents through the v1alpha API: shapes, rules, bad input."""

import asyncio
import time

import httpx
from fastapi import FastAPI

from blockpost.dispatch.queue import JobSpec
from tests.api.agent_helpers import ProtocolAgent, create_type, enqueue

TYPES = "/api/v1alpha/self_hosted_agent_types"


async def test_create_shows_the_token_once_and_describe_matches_the_reference(
    admin: httpx.AsyncClient,
) -> None:
    created = await admin.post(TYPES, json={"metadata": {"name": "s1-aws-small"}})
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"metadata", "spec", "status"}
    assert set(body["metadata"]) == {"name", "create_time", "update_time"}
    assert isinstance(body["metadata"]["create_time"], int)
    assert body["spec"] == {
        "agent_name_settings": {"assignment_origin": "assignment_origin_agent", "release_after": 0}
    }
    assert body["status"]["total_agent_count"] == 0
    assert len(body["status"]["registration_token"]) >= 40
    described = (await admin.get(f"{TYPES}/s1-aws-small")).json()
    assert "registration_token" not in described["status"]
    listed = (await admin.get(TYPES)).json()
    assert [t["metadata"]["name"] for t in listed["agent_types"]] == ["s1-aws-small"]


async def test_form_body_creates_like_the_reference_curl(admin: httpx.AsyncClient) -> None:
    response = await admin.post(TYPES, data={"metadata.name": "s1-formed"})
    assert response.status_code == 200, response.text


async def test_bad_agent_types_are_refused(
    admin: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    bad = await admin.post(TYPES, json={"metadata": {"name": "aws-small"}})
    assert bad.status_code == 400
    assert bad.json()["message"].startswith(
        "metadata.name: The agent type name 'aws-small' is invalid: must follow the pattern"
    )
    assert (await admin.post(TYPES, json={"metadata": {}})).json()["message"] == (
        "metadata.name: is required"
    )
    await create_type(admin, "s1-dup")
    assert (await admin.post(TYPES, json={"metadata": {"name": "s1-dup"}})).status_code == 409
    assert (await alice.post(TYPES, json={"metadata": {"name": "s1-mine"}})).status_code == 403
    assert (await admin.get(f"{TYPES}/s1-none")).status_code == 404


async def test_agents_list_and_describe_and_delete_rules(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    token = await create_type(admin, "s1-pool")
    agents = [ProtocolAgent(app, token, f"agent-{n}") for n in range(3)]
    for agent in agents:
        assert (await agent.register()).status_code == 201
    described = (await admin.get("/api/v1alpha/agents/agent-1")).json()
    assert described["status"] == {"state": "waiting_for_job"}
    assert described["metadata"]["type"] == "s1-pool"
    assert described["metadata"]["ip_address"]
    assert set(described["metadata"]) == {
        "name",
        "type",
        "connected_at",
        "version",
        "os",
        "arch",
        "hostname",
        "ip_address",
        "pid",
    }
    page = (await admin.get("/api/v1alpha/agents", params={"page_size": 2})).json()
    assert [a["metadata"]["name"] for a in page["agents"]] == ["agent-0", "agent-1"]
    rest = (await admin.get("/api/v1alpha/agents", params={"cursor": page["cursor"]})).json()
    assert [a["metadata"]["name"] for a in rest["agents"]] == ["agent-2"]
    assert rest["cursor"] == ""
    assert (await admin.get(f"{TYPES}/s1-pool")).json()["status"]["total_agent_count"] == 3

    refused = await admin.delete(f"{TYPES}/s1-pool")
    assert refused.status_code == 409
    for agent in agents:
        assert (
            await agent.client.post("/api/v1/self_hosted_agents/disconnect", headers=agent.auth())
        ).status_code == 200
        await agent.close()
    assert (await admin.delete(f"{TYPES}/s1-pool")).json() == {}
    assert (await admin.get("/api/v1alpha/agents")).json() == {"agents": [], "cursor": ""}


async def test_disable_all_shuts_idle_agents_down_at_their_next_sync(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    token = await create_type(admin, "s1-disable")
    agent = ProtocolAgent(app, token, "to-disable")
    await agent.register()
    assert (
        await admin.post(f"{TYPES}/s1-disable/disable_all", data={"only_idle": "true"})
    ).json() == {}
    answer = await agent.sync("waiting-for-jobs")
    assert (answer["action"], answer["shutdown_reason"]) == ("shutdown", "requested")
    described = (await admin.get("/api/v1alpha/agents/to-disable")).json()
    assert isinstance(described["metadata"]["disabled_at"], int)
    await agent.close()


async def test_reset_token_replaces_the_registration_token(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    old = await create_type(admin, "s1-reset")
    new = (await admin.post(f"{TYPES}/s1-reset/reset_token")).json()["status"]["registration_token"]
    assert new != old
    assert (await ProtocolAgent(app, old, "a").register()).status_code == 404
    assert (await ProtocolAgent(app, new, "b").register()).status_code == 201


async def test_an_idle_agent_on_the_quiet_path_still_hears_jobs_and_a_disable(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """Once a claim found the type's queue empty, idle syncs skip loading the agent; a job
    queued meanwhile still reaches a held sync at once, and a disable still lands."""
    token = await create_type(admin, "s1-quiet")
    first, second = ProtocolAgent(app, token, "quiet-1"), ProtocolAgent(app, token, "quiet-2")
    await first.register()
    await second.register()
    assert (await first.sync("waiting-for-jobs"))["action"] == "continue"  # queue: empty
    held = asyncio.create_task(second.sync("waiting-for-jobs"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    job_id = await enqueue(app, JobSpec(name="j", agent_type="s1-quiet", commands=["true"]))
    answer = await held
    assert (answer["action"], answer["job_id"]) == ("run-job", job_id)
    assert time.monotonic() - started < 0.5  # woken, not answered at the hold's end
    assert (await first.sync("waiting-for-jobs"))["action"] == "continue"
    await admin.post(f"{TYPES}/s1-quiet/disable_all", data={"only_idle": "true"})
    answer = await first.sync("waiting-for-jobs")
    assert (answer["action"], answer["shutdown_reason"]) == ("shutdown", "requested")
    await first.close()
    await second.close()
