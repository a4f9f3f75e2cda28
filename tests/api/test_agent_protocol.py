"""The agent protocol, field by field, driven over HTTP exactly as an agent drives it."""

import asyncio
import base64
import json
import time
from collections import Counter

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from blockpost.artifacts.tokens import token_for
from blockpost.db.engine import Database
from blockpost.db.models import Job
from blockpost.dispatch.queue import FileSpec, JobSpec
from blockpost.dispatch.reaper import Reaper
from tests.api.agent_helpers import ProtocolAgent, agent_running, create_type, enqueue

SPEC = JobSpec(
    name="Unit tests",
    agent_type="s1-test",
    commands=["echo hi", "make test"],
    env_vars=[("GREETING", "hello world")],
    files=[FileSpec(".ssh/key", b"secret-bytes", "0600")],
    epilogue_always=["echo always"],
    epilogue_on_fail=["cat log"],
)


def event(kind: str, **fields: object) -> str:
    return json.dumps({"event": kind, "timestamp": 1700000000, **fields})


async def test_a_job_goes_from_queue_to_agent_to_finished(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    token = await create_type(admin)
    agent = ProtocolAgent(app, token, "runner-1")
    registered = await agent.register()
    assert registered.status_code == 201
    assert set(registered.json()) == {"name", "token"}

    idle = await agent.sync("waiting-for-jobs")
    assert idle == {"action": "continue", "job_id": "", "shutdown_reason": "", "next_sync_after": 1}

    job_id = await enqueue(app, SPEC)
    answer = await agent.sync("waiting-for-jobs")
    assert answer["action"] == "run-job"
    assert answer["job_id"] == job_id

    payload = (await agent.job(job_id)).json()
    assert payload["job_id"] == job_id
    assert payload["commands"] == [{"directive": "echo hi"}, {"directive": "make test"}]
    assert payload["env_vars"] == [
        {"name": "SEMAPHORE_ORGANIZATION_URL", "value": base64.b64encode(b"http://test").decode()},
        {
            "name": "SEMAPHORE_ARTIFACT_TOKEN",
            "value": base64.b64encode(token_for("test-secret-key", job_id).encode()).decode(),
        },
        {"name": "GREETING", "value": base64.b64encode(b"hello world").decode()},
    ]
    assert payload["files"] == [
        {"path": ".ssh/key", "content": base64.b64encode(b"secret-bytes").decode(), "mode": "0600"}
    ]
    assert payload["epilogue_always_commands"] == [{"directive": "echo always"}]
    assert payload["epilogue_on_pass_commands"] == []
    assert payload["logger"]["method"] == "push"
    assert payload["logger"]["url"] == f"http://test/api/v1/logs/{job_id}"
    log_auth = {"Authorization": f"Bearer {payload['logger']['token']}"}

    other = ProtocolAgent(app, token, "runner-2")
    await other.register()
    assert (await other.job(job_id)).status_code == 404

    assert (await agent.sync("starting-job", job_id))["action"] == "continue"
    running = await admin.get(f"/api/v1alpha/jobs/{job_id}")
    assert running.json()["status"]["state"] == "RUNNING"
    assert running.json()["status"]["agent"]["name"] == "runner-1"

    batch = "\n".join(
        [
            event("job_started"),
            event("cmd_started", directive="echo hi"),
            event("cmd_output", output="hi\n"),
            event("cmd_finished", directive="echo hi", exit_code=0, started_at=1, finished_at=2),
        ]
    )
    url = f"/api/v1/logs/{job_id}"
    assert (
        await agent.client.post(url, params={"start_from": 0}, content=batch, headers=log_auth)
    ).status_code == 200
    # The agent retries a batch whose answer it missed: nothing may be duplicated.
    assert (
        await agent.client.post(url, params={"start_from": 0}, content=batch, headers=log_auth)
    ).status_code == 200
    tail = event("job_finished", result="passed")
    assert (
        await agent.client.post(url, params={"start_from": 4}, content=tail, headers=log_auth)
    ).status_code == 200

    done = await agent.sync("finished-job", job_id, "passed")
    assert done["action"] == "wait-for-jobs"
    described = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()
    assert described["status"]["state"] == "FINISHED"
    assert described["status"]["result"] == "PASSED"
    assert described["metadata"]["finish_time"].isdigit()
    assert described["spec"]["commands"] == ["echo hi", "make test"]

    plain = await admin.get(f"/jobs/{job_id}/plain_logs.json")
    assert plain.text == "echo hi\nhi\n"
    events = (await admin.get(f"/api/v1alpha/logs/{job_id}")).json()
    assert [e["event"] for e in events["events"]] == [
        "job_started",
        "cmd_started",
        "cmd_output",
        "cmd_finished",
        "job_finished",
    ]
    assert events["next"] == 5
    assert events["finished"] is True
    after = await agent.client.post(url, params={"start_from": 5}, content=tail, headers=log_auth)
    assert after.status_code == 401, "the log token dies with the job"
    await agent.close()
    await other.close()


async def test_log_push_refuses_bad_lines_too_many_lines_and_too_much(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    agent, job_id = await agent_running(app, admin, SPEC)
    log_token = (await agent.job(job_id)).json()["logger"]["token"]
    url = f"/api/v1/logs/{job_id}"
    auth = {"Authorization": f"Bearer {log_token}"}
    bad = await agent.client.post(url, params={"start_from": 0}, content="not json", headers=auth)
    assert (bad.status_code, bad.json()["message"]) == (400, "line 1: is not JSON")
    many = "\n".join(event("cmd_output", output="x") for _ in range(2001))
    assert (
        await agent.client.post(url, params={"start_from": 0}, content=many, headers=auth)
    ).status_code == 413
    batch = "\n".join(event("cmd_output", output="x" * 1000) for _ in range(50))
    statuses = [
        (
            await agent.client.post(url, params={"start_from": n * 50}, content=batch, headers=auth)
        ).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 422], "the fourth batch passes the 200 kB cap"
    full = await agent.client.post(url, params={"start_from": 150}, content=batch, headers=auth)
    assert full.json()["message"].startswith("No more space")
    missing = await agent.client.post(url, content=event("job_started"), headers=auth)
    assert missing.status_code == 400
    assert len((await admin.get(f"/api/v1alpha/logs/{job_id}")).json()["events"]) == 150
    refreshed = await agent.client.post("/api/v1/self_hosted_agents/refresh", headers=agent.auth())
    assert refreshed.status_code == 200
    assert refreshed.json()["token"] != log_token
    stale = await agent.client.post(
        url, params={"start_from": 0}, content=event("job_started"), headers=auth
    )
    assert stale.status_code == 401
    await agent.close()


async def test_output_no_database_can_store_is_kept_with_a_replacement_character(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    agent, job_id = await agent_running(app, admin, SPEC)
    log_token = (await agent.job(job_id)).json()["logger"]["token"]
    lines = [
        event("cmd_output", output="binary \x00 out\n"),  # json.dumps spells it \u0000
        '{"event": "cmd_output", "timestamp": 1, "output": "half \\ud83d pair\\n"}',
        event("cmd_output", output="plain\n"),
    ]
    pushed = await agent.client.post(
        f"/api/v1/logs/{job_id}",
        params={"start_from": 0},
        content="\n".join(lines),
        headers={"Authorization": f"Bearer {log_token}"},
    )
    assert pushed.status_code == 200, pushed.text
    events = (await admin.get(f"/api/v1alpha/logs/{job_id}")).json()["events"]
    assert [e["output"] for e in events] == ["binary \ufffd out\n", "half \ufffd pair\n", "plain\n"]
    await agent.close()


async def test_stopping_a_running_job_reaches_the_agents_held_sync_at_once(
    app: FastAPI, admin: httpx.AsyncClient, settings
) -> None:
    agent, job_id = await agent_running(app, admin, SPEC)

    async def stop_soon() -> None:
        await asyncio.sleep(0.2)
        assert (await admin.post(f"/api/v1alpha/jobs/{job_id}/stop")).status_code == 200

    started = time.monotonic()
    answer, _ = await asyncio.gather(agent.sync("running-job", job_id), stop_soon())
    assert answer == {
        "action": "stop-job",
        "job_id": job_id,
        "shutdown_reason": "",
        "next_sync_after": 1,
    }
    assert time.monotonic() - started < settings.sync_hold_seconds
    await agent.sync("finished-job", job_id, "stopped")
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["result"], status["result_reason"]) == ("STOPPED", "stopped by admin")
    await agent.close()


async def test_a_queued_job_is_woken_into_an_idle_agents_held_sync(
    app: FastAPI, admin: httpx.AsyncClient, settings
) -> None:
    token = await create_type(admin)
    agent = ProtocolAgent(app, token)
    await agent.register()

    async def enqueue_soon() -> str:
        await asyncio.sleep(0.2)
        return await enqueue(app, SPEC)

    started = time.monotonic()
    answer, job_id = await asyncio.gather(agent.sync("waiting-for-jobs"), enqueue_soon())
    assert (answer["action"], answer["job_id"]) == ("run-job", job_id)
    assert time.monotonic() - started < settings.sync_hold_seconds
    await agent.close()


async def test_stopping_a_queued_job_ends_it_at_once(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    job_id = await enqueue(app, SPEC)
    assert (await admin.post(f"/api/v1alpha/jobs/{job_id}/stop")).json() == {}
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["state"], status["result"]) == ("FINISHED", "STOPPED")


async def test_a_lost_agent_fails_its_job_and_leaves_the_list(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    agent, job_id = await agent_running(app, admin, SPEC, "vanishing")
    assert (await agent.job(job_id)).status_code == 200
    reaper = Reaper(app.state.db, app.state.wakeups, lease_seconds=1)
    await asyncio.sleep(1.1)
    await reaper.run_once()
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["state"], status["result"]) == ("FINISHED", "FAILED")
    assert status["result_reason"] == "agent vanishing was lost: no sync for 1 s"
    assert (await admin.get("/api/v1alpha/agents")).json()["agents"] == []
    gone = await agent.client.post(
        "/api/v1/self_hosted_agents/sync",
        json={"state": "running-job", "job_id": job_id},
        headers=agent.auth(),
    )
    assert gone.status_code == 404
    await agent.close()


async def test_an_agent_registering_again_under_its_name_replaces_its_stale_self(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """A container or machine restarted within the lease comes back under the same name:
    it must get in, and the job its previous life was running fails at once."""
    stale, job_id = await agent_running(app, admin, SPEC, "same-name")
    assert (await stale.job(job_id)).status_code == 200  # the job has begun
    again = ProtocolAgent(app, stale.registration_token, "same-name")
    assert (await again.register()).status_code == 201
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["result"], status["result_reason"]) == (
        "FAILED",
        "agent same-name registered again",
    )
    gone = await stale.client.post(
        "/api/v1/self_hosted_agents/sync",
        json={"state": "running-job", "job_id": job_id},
        headers=stale.auth(),
    )
    assert gone.status_code == 404
    # A job handed over but never fetched has not run: it goes back in line.
    handed = await enqueue(app, SPEC)
    assert (await again.sync("waiting-for-jobs"))["job_id"] == handed
    third = ProtocolAgent(app, stale.registration_token, "same-name")
    assert (await third.register()).status_code == 201
    assert (await admin.get(f"/api/v1alpha/jobs/{handed}")).json()["status"]["state"] == "QUEUED"
    assert (await third.sync("waiting-for-jobs"))["job_id"] == handed
    names = [
        a["metadata"]["name"] for a in (await admin.get("/api/v1alpha/agents")).json()["agents"]
    ]
    assert names == ["same-name"]
    other_type = ProtocolAgent(app, await create_type(admin, "s1-other"), "same-name")
    taken = await other_type.register()
    assert taken.status_code == 409
    assert "another type" in taken.json()["message"]
    for agent in (stale, again, third, other_type):
        await agent.close()


async def test_a_server_just_started_gives_silent_agents_a_lease_to_come_back(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """Agents cannot sync while the server is down: a restart is not evidence they are lost."""
    agent, job_id = await agent_running(app, admin, SPEC, "patient")
    assert (await agent.job(job_id)).status_code == 200
    await asyncio.sleep(1.1)  # silent for longer than the lease, as if the server had been down
    restarted = Reaper(app.state.db, app.state.wakeups, lease_seconds=1)
    await restarted.run_once()
    assert [
        a["metadata"]["name"] for a in (await admin.get("/api/v1alpha/agents")).json()["agents"]
    ] == ["patient"]
    await asyncio.sleep(1.1)  # a whole lease of the server listening, and still silent
    await restarted.run_once()
    assert (await admin.get("/api/v1alpha/agents")).json()["agents"] == []
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["state"], status["result"]) == ("FINISHED", "FAILED")


async def test_the_server_stops_a_job_past_its_time_limit(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    token = await create_type(admin)
    agent = ProtocolAgent(app, token)
    await agent.register()
    job_id = await enqueue(
        app,
        JobSpec(name="slow", agent_type="s1-test", commands=["sleep 600"], execution_time_limit=1),
    )
    await agent.sync("waiting-for-jobs")
    await asyncio.sleep(1.1)
    await Reaper(app.state.db, app.state.wakeups, lease_seconds=600).run_once()
    assert (await agent.sync("running-job", job_id))["action"] == "stop-job"
    await agent.sync("finished-job", job_id, "stopped")
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["result"], status["result_reason"]) == (
        "STOPPED",
        "execution time limit exceeded",
    )
    await agent.close()


async def test_bad_sync_and_register_bodies_are_refused(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    token = await create_type(admin)
    agent = ProtocolAgent(app, token)
    assert (await agent.register(name="has space")).status_code == 400
    assert (await agent.register(job_id="abc")).status_code == 400
    assert (await agent.register(name="ok-name")).status_code == 201
    bad = await agent.client.post(
        "/api/v1/self_hosted_agents/sync", json={"state": "dancing"}, headers=agent.auth()
    )
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("state: must be one of waiting-for-jobs")
    await agent.close()


async def test_twenty_agents_run_two_hundred_jobs_each_exactly_once(
    app: FastAPI, admin: httpx.AsyncClient, db: Database
) -> None:
    token = await create_type(admin)
    job_ids = {
        await enqueue(app, JobSpec(name=f"j{n}", agent_type="s1-test", commands=["true"]))
        for n in range(200)
    }
    runs: Counter[str] = Counter()

    async def work(n: int) -> None:
        agent = ProtocolAgent(app, token, f"worker-{n}")
        await agent.register()
        while True:
            answer = await agent.sync("waiting-for-jobs")
            if answer["action"] != "run-job":
                break
            runs[answer["job_id"]] += 1
            assert (await agent.job(answer["job_id"])).status_code == 200
            assert (await agent.sync("finished-job", answer["job_id"], "passed"))[
                "action"
            ] == "wait-for-jobs"
        await agent.close()

    await asyncio.gather(*(work(n) for n in range(20)))
    assert set(runs) == job_ids
    assert set(runs.values()) == {1}
    async with db.session() as session:
        results = Counter((await session.scalars(select(Job.result))).all())
    assert results == {"passed": 200}


async def test_a_queued_job_says_why_it_waits(app: FastAPI, admin: httpx.AsyncClient) -> None:
    first = await enqueue(app, SPEC)
    status = (await admin.get(f"/api/v1alpha/jobs/{first}")).json()["status"]
    assert status["state"] == "QUEUED"
    assert status["waiting_reason"] == "waiting for an agent of type s1-test: none is connected"
    agent = ProtocolAgent(app, await create_type(admin), "busy")
    await agent.register()
    assert (await agent.sync("waiting-for-jobs"))["job_id"] == first, "oldest job first"
    second = await enqueue(app, SPEC)
    status = (await admin.get(f"/api/v1alpha/jobs/{second}")).json()["status"]
    assert status["waiting_reason"] == (
        "waiting for a free agent of type s1-test (1 connected, all busy)"
    )
    running = (await admin.get(f"/api/v1alpha/jobs/{first}")).json()["status"]
    assert running["waiting_reason"] is None
    await agent.close()


async def test_an_agent_cannot_finish_or_fetch_a_job_it_was_not_given(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    owner, job_id = await agent_running(app, admin, SPEC, "owner")
    token = await create_type(admin, "s1-other")
    intruder = ProtocolAgent(app, token, "intruder")
    await intruder.register()
    assert (await intruder.job(job_id)).status_code == 404
    refresh = await intruder.client.post(
        "/api/v1/self_hosted_agents/refresh", headers=intruder.auth()
    )
    assert refresh.status_code == 404
    answer = await intruder.sync("finished-job", job_id, "passed")
    assert answer["action"] == "wait-for-jobs"
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert (status["state"], status["result"]) == ("RUNNING", "NONE")
    running = await intruder.sync("running-job", job_id)
    assert running["action"] == "stop-job", "an agent claiming someone else's job is told to stop"
    status = (await admin.get(f"/api/v1alpha/jobs/{job_id}")).json()["status"]
    assert status["state"] == "RUNNING", "and the real job is untouched"
    await owner.close()
    await intruder.close()
