"""The engine, driven step by step: a real git repository, real database, protocol agents."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from blockpost.config import Settings
from blockpost.db.models import Job, Pipeline
from blockpost.dispatch.reaper import Reaper
from tests.api.engine_rig import API, EngineRig, Taken, block, make_rig, pipeline_yaml

SEQUENTIAL = pipeline_yaml(block("Build", "compile"), block("Test", "unit", "lint"))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # idle syncs answer at once: these tests ask "is a job queued?" many times
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, SEQUENTIAL)
    yield made
    await made.close()


def commit_pipeline(rig: EngineRig, text: str, message: str = "pipeline") -> str:
    return rig.repo.commit({".semaphore/semaphore.yml": text}, message)


async def start_bad_and_slow(rig: EngineRig) -> tuple[str, Taken]:
    """Runs the pipeline; two agents take jobs `bad` and `slow`; `bad` fails.
    Returns the pipeline id and the still-running `slow`."""
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    one = await rig.take()
    two = await rig.take(await rig.agent())
    bad, slow = (one, two) if one.name == "bad" else (two, one)
    await bad.report("failed")
    await rig.settle()
    return ppl, slow


async def test_sequential_blocks_run_one_after_another(rig: EngineRig) -> None:
    ids = await rig.run()
    assert set(ids) == {"workflow_id", "pipeline_id", "hook_id"}
    ppl = ids["pipeline_id"]
    assert await rig.state(ppl) == ("initializing", None, None)
    await rig.settle()
    jobs = await rig.jobs(ppl)
    # the second block's jobs wait for the first block
    assert jobs["compile"]["status"] == "QUEUED"
    assert jobs["unit"]["status"] == "PENDING"
    assert await rig.state(ppl) == ("running", None, None)
    first = await rig.take()
    assert first.name == "compile"
    assert await rig.idle()  # nothing else may start while Build runs
    await first.report("passed")
    await rig.settle()
    assert sorted(await rig.run_jobs()) == ["lint", "unit"]
    assert await rig.state(ppl) == ("done", "passed", "test")
    body = await rig.pipeline(ppl)
    assert [b["name"] for b in body["blocks"]] == ["Build", "Test"]
    assert all(b["state"] == "done" and b["result"] == "passed" for b in body["blocks"])
    assert [j["index"] for j in body["blocks"][1]["jobs"]] == [0, 1]
    assert body["pipeline"]["name"] == "Rig pipeline"


async def test_dag_failure_cancels_dependents_and_lets_other_branches_finish(
    rig: EngineRig,
) -> None:
    deps = "    dependencies: [{}]\n"
    commit_pipeline(
        rig,
        pipeline_yaml(
            block("A", "a", extra=deps.format("")),
            block("B", "b", extra=deps.format("A")),
            block("C", "c", extra=deps.format("A")),
            block("D", "d", extra=deps.format("B")),
        ),
    )
    ppl = (await rig.run())["pipeline_id"]
    ran = await rig.run_jobs({"b": "failed"})
    assert ran[0] == "a"
    assert sorted(ran[1:]) == ["b", "c"]
    body = await rig.pipeline(ppl)
    blocks = {b["name"]: (b["state"], b["result"]) for b in body["blocks"]}
    assert blocks == {
        "A": ("done", "passed"),
        "B": ("done", "failed"),
        "C": ("done", "passed"),
        "D": ("done", "canceled"),
    }
    assert body["blocks"][3]["jobs"] == []  # a block that never ran has no jobs
    assert await rig.state(ppl) == ("done", "failed", "test")


async def test_fail_fast_stop_stops_running_jobs(rig: EngineRig) -> None:
    commit_pipeline(
        rig,
        pipeline_yaml(
            block("Both", "bad", "slow"),
            block("Later", "never"),
            head="fail_fast:\n  stop:\n    when: \"branch = 'master'\"\n",
        ),
    )
    ppl, slow = await start_bad_and_slow(rig)
    assert (await rig.jobs(ppl))["slow"]["status"] == "RUNNING"
    assert (await slow.agent.sync("running-job", slow.id))["action"] == "stop-job"
    await slow.report("stopped")
    await rig.settle()
    assert await rig.state(ppl) == ("done", "stopped", "fast_failing")
    blocks = {b["name"]: b["result"] for b in (await rig.pipeline(ppl))["blocks"]}
    assert blocks == {"Both": "failed", "Later": "canceled"}


async def test_fail_fast_cancel_lets_running_blocks_finish(rig: EngineRig) -> None:
    deps = "    dependencies: [{}]\n"
    commit_pipeline(
        rig,
        pipeline_yaml(
            block("Bad", "bad", extra=deps.format("")),
            block("Slow", "slow", extra=deps.format("")),
            block("After", "after", extra=deps.format("Slow")),
            head="fail_fast:\n  cancel:\n    when: true\n",
        ),
    )
    ppl, slow = await start_bad_and_slow(rig)
    # the running job is not stopped; the block waiting for it will never start
    assert (await slow.agent.sync("running-job", slow.id))["action"] == "continue"
    await slow.report("passed")
    await rig.settle()
    blocks = {b["name"]: b["result"] for b in (await rig.pipeline(ppl))["blocks"]}
    assert blocks == {"Bad": "failed", "Slow": "passed", "After": "canceled"}
    assert await rig.state(ppl) == ("done", "canceled", "fast_failing")


async def test_serialized_queue_holds_the_second_pipeline_until_the_first_is_done(
    rig: EngineRig,
) -> None:
    first = (await rig.run())["pipeline_id"]
    await rig.settle()
    second = (await rig.run())["pipeline_id"]
    await rig.settle()
    assert (await rig.state(first))[0] == "running"
    assert (await rig.state(second))[0] == "queuing"
    ran = await rig.run_jobs()
    assert ran[0] == "compile"
    assert sorted(ran[1:3]) == ["lint", "unit"]
    assert await rig.state(first) == ("done", "passed", "test")
    assert await rig.state(second) == ("done", "passed", "test")
    listed = (await rig.api.get(f"{API}/pipelines", params={"project_id": rig.project_id})).json()
    one, two = (
        (p for p in listed if p["ppl_id"] == first),
        (p for p in listed if p["ppl_id"] == second),
    )
    first_row, second_row = next(one), next(two)
    # the second started running only once the first was done
    assert second_row["running_at"]["seconds"] * 10**9 + second_row["running_at"]["nanos"] >= (
        first_row["done_at"]["seconds"] * 10**9 + first_row["done_at"]["nanos"]
    )


async def test_parallel_queue_runs_pipelines_side_by_side(rig: EngineRig) -> None:
    commit_pipeline(
        rig, pipeline_yaml(block("Only", "job"), head="queue:\n  processing: parallel\n")
    )
    first = (await rig.run())["pipeline_id"]
    second = (await rig.run())["pipeline_id"]
    await rig.settle()
    assert (await rig.state(first))[0] == "running"
    assert (await rig.state(second))[0] == "running"
    assert await rig.run_jobs() == ["job", "job"]


async def test_named_queue_serializes_pipelines_of_different_branches(rig: EngineRig) -> None:
    commit_pipeline(rig, pipeline_yaml(block("Only", "job"), head="queue:\n  name: deploys\n"))
    rig.repo.checkout("other", new=True)
    first = (await rig.run())["pipeline_id"]
    second = (await rig.run("refs/heads/other"))["pipeline_id"]
    await rig.settle()
    assert (await rig.state(first))[0] == "running"
    assert (await rig.state(second))[0] == "queuing"


async def test_auto_cancel_running_stops_the_older_pipeline_of_the_branch(
    rig: EngineRig,
) -> None:
    commit_pipeline(
        rig,
        pipeline_yaml(
            block("Only", "job"), head="auto_cancel:\n  running:\n    when: \"branch = 'master'\"\n"
        ),
    )
    old = (await rig.run())["pipeline_id"]
    await rig.settle()
    running = await rig.take()
    commit_pipeline(
        rig,
        pipeline_yaml(
            block("Only", "job"), head="auto_cancel:\n  running:\n    when: \"branch = 'master'\"\n"
        )
        + "# second push\n",
        "second push",
    )
    new = (await rig.run())["pipeline_id"]
    await rig.settle()
    assert (await running.agent.sync("running-job", running.id))["action"] == "stop-job"
    await running.report("stopped")
    await rig.settle()
    assert await rig.state(old) == ("done", "stopped", "strategy")
    assert (await rig.state(new))[0] == "running"
    assert await rig.run_jobs() == ["job"]
    assert await rig.state(new) == ("done", "passed", "test")


async def test_auto_cancel_queued_cancels_waiting_pipelines_only(rig: EngineRig) -> None:
    commit_pipeline(
        rig, pipeline_yaml(block("Only", "job"), head="auto_cancel:\n  queued:\n    when: true\n")
    )
    first = (await rig.run())["pipeline_id"]
    await rig.settle()
    second = (await rig.run())["pipeline_id"]
    await rig.settle()
    third = (await rig.run())["pipeline_id"]
    await rig.settle()
    assert (await rig.state(first))[0] == "running"
    assert await rig.state(second) == ("done", "canceled", "strategy")
    assert (await rig.state(third))[0] == "queuing"


async def test_skip_and_run_conditions_follow_branch_and_tag(rig: EngineRig) -> None:
    commit_pipeline(
        rig,
        pipeline_yaml(
            block("Always", "always"),
            block("Not on master", "dev", extra="    skip:\n      when: \"branch = 'master'\"\n"),
            block("Tags only", "release", extra="    run:\n      when: \"tag =~ '^v'\"\n"),
        ),
    )
    rig.repo.tag("v1.0")
    on_master = (await rig.run())["pipeline_id"]
    assert await rig.run_jobs() == ["always"]
    blocks = {
        b["name"]: (b["result"], b["result_reason"])
        for b in (await rig.pipeline(on_master))["blocks"]
    }
    assert blocks == {
        "Always": ("passed", "test"),
        "Not on master": ("passed", "skipped"),
        "Tags only": ("passed", "skipped"),
    }
    on_tag = (await rig.run("refs/tags/v1.0"))["pipeline_id"]
    assert await rig.run_jobs() == ["always", "dev", "release"]
    assert await rig.state(on_tag) == ("done", "passed", "test")
    workflow = (
        await rig.api.get(f"{API}/plumber-workflows", params={"project_id": rig.project_id})
    ).json()[0]
    assert workflow["branch_name"] == "refs/tags/v1.0"


async def test_change_in_runs_blocks_whose_paths_changed(rig: EngineRig) -> None:
    rig.repo.commit({"docs/readme.md": "x"}, "base")
    commit_pipeline(
        rig,
        pipeline_yaml(
            block("Lib", "lib", extra="    run:\n      when: \"change_in('/lib')\"\n"),
            block(
                "Docs",
                "docs",
                extra="    run:\n      when: \"change_in('/docs', {pipeline_file: 'ignore'})\"\n",
            ),
        ),
    )
    rig.repo.checkout("feature", new=True)
    rig.repo.commit({"lib/code.py": "print(1)"}, "lib change")
    await rig.run("refs/heads/feature")
    assert await rig.run_jobs() == ["lib"]


async def test_matrix_and_parallelism_name_jobs_and_set_their_env(rig: EngineRig) -> None:
    commit_pipeline(
        rig,
        pipeline_yaml(
            "  - name: Grid\n    task:\n      jobs:\n"
            "        - name: Matrix\n          commands: [echo m]\n"
            "          matrix:\n            - env_var: LANG_V\n              values: ['1', '2']\n"
            "            - env_var: OS\n              values: [linux]\n"
            "        - name: Split\n          commands: [echo p]\n          parallelism: 3\n"
        ),
    )
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    names = list(await rig.jobs(ppl))
    assert names == [
        "Matrix - LANG_V=1, OS=linux",
        "Matrix - LANG_V=2, OS=linux",
        "Split - 1/3",
        "Split - 2/3",
        "Split - 3/3",
    ]
    envs = {}
    for _ in names:
        taken = await rig.take()
        envs[taken.name] = {
            e["name"]: base64.b64decode(e["value"]).decode() for e in taken.payload["env_vars"]
        }
        await taken.report()
    assert envs["Matrix - LANG_V=2, OS=linux"]["LANG_V"] == "2"
    assert envs["Split - 2/3"]["SEMAPHORE_JOB_INDEX"] == "2"
    assert envs["Split - 2/3"]["SEMAPHORE_JOB_COUNT"] == "3"
    assert envs["Split - 2/3"]["SEMAPHORE_JOB_NAME"] == "Split - 2/3"


async def test_jobs_get_the_semaphore_environment_then_env_vars(rig: EngineRig) -> None:
    commit_pipeline(
        rig,
        pipeline_yaml(
            "  - name: Env\n    task:\n"
            "      env_vars:\n        - name: LEVEL\n          value: block\n"
            "      prologue:\n        commands: [echo prologue]\n"
            "      epilogue:\n        always:\n          commands: [echo bye]\n"
            "      jobs:\n        - name: Show\n          commands: [env]\n"
            "          env_vars:\n            - name: LEVEL\n              value: job\n",
            head="global_job_config:\n  env_vars:\n    - name: LEVEL\n      value: global\n"
            "  prologue:\n    commands: [echo global]\n",
        ),
    )
    ids = await rig.run()
    await rig.settle()
    taken = await rig.take()
    pairs = [(e["name"], base64.b64decode(e["value"]).decode()) for e in taken.payload["env_vars"]]
    env = dict(pairs)
    sha = rig.repo.git("rev-parse", "HEAD")
    assert env["SEMAPHORE_WORKFLOW_ID"] == ids["workflow_id"]
    assert env["SEMAPHORE_PIPELINE_ID"] == ids["pipeline_id"]
    assert env["SEMAPHORE_JOB_ID"] == taken.id
    assert env["SEMAPHORE_GIT_SHA"] == sha
    assert env["SEMAPHORE_GIT_BRANCH"] == "master"
    assert env["SEMAPHORE_GIT_REF"] == "refs/heads/master"
    assert env["SEMAPHORE_GIT_REF_TYPE"] == "branch"
    assert env["SEMAPHORE_GIT_URL"] == rig.repo.url
    assert env["SEMAPHORE_GIT_DIR"] == "repo"
    assert env["SEMAPHORE_PROJECT_NAME"] == "rig"
    assert env["SEMAPHORE_WORKFLOW_NUMBER"] == "1"
    assert env["SEMAPHORE_AGENT_MACHINE_TYPE"] == "e1-standard-2"
    assert env["SEMAPHORE_BLOCK_NAME"] == "Env"
    assert env["CI"] == "true"
    assert env["SEMAPHORE_GIT_COMMIT_RANGE"].endswith(f"...{sha}")
    # later wins: global, then block, then job
    assert [v for n, v in pairs if n == "LEVEL"] == ["global", "block", "job"]
    commands = [c["directive"] for c in taken.payload["commands"]]
    assert commands == ["echo global", "echo prologue", "env"]
    assert [c["directive"] for c in taken.payload["epilogue_always_commands"]] == ["echo bye"]


async def test_terminate_running_pipeline_stops_its_jobs(rig: EngineRig) -> None:
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    running = await rig.take()
    patched = await rig.api.patch(f"{API}/pipelines/{ppl}", json={"terminate_request": True})
    assert patched.status_code == 200, patched.text
    await rig.settle()
    assert (await rig.state(ppl))[0] == "stopping"
    assert (await running.agent.sync("running-job", running.id))["action"] == "stop-job"
    await running.report("stopped")
    await rig.settle()
    assert await rig.state(ppl) == ("done", "stopped", "user")
    body = (await rig.pipeline(ppl))["pipeline"]
    assert body["terminate_request"] == "stop"
    assert body["terminated_by"] == "admin"
    jobs = await rig.jobs(ppl)
    assert jobs["compile"]["result"] == "STOPPED"
    assert "unit" not in jobs  # the second block never started


async def test_terminate_workflow_cancels_a_pipeline_still_queuing(rig: EngineRig) -> None:
    await rig.run()
    await rig.settle()
    second = await rig.run()
    await rig.settle()
    stopped = await rig.api.post(f"{API}/plumber-workflows/{second['workflow_id']}/terminate")
    assert stopped.status_code == 200
    await rig.settle()
    assert await rig.state(second["pipeline_id"]) == ("done", "canceled", "user")


async def test_terminate_needs_true(rig: EngineRig) -> None:
    ppl = (await rig.run())["pipeline_id"]
    for body in ({"terminate_request": False}, {}, {"terminate_request": "maybe"}):
        response = await rig.api.patch(f"{API}/pipelines/{ppl}", json=body)
        assert response.status_code == 400, body
        assert "terminate_request" in response.json()["message"]


LIMITED_JOB = (
    "  - name: Slow\n{block_limit}    task:\n      jobs:\n        - name: sleeper\n"
    "          commands: [sleep 600]\n{job_limit}"
)


@pytest.mark.parametrize(
    ("block_limit", "job_limit"),
    [
        ("", "          execution_time_limit:\n            minutes: 1\n"),
        ("    execution_time_limit:\n      minutes: 1\n", ""),
    ],
    ids=["job limit", "block limit"],
)
async def test_job_time_limit_stops_the_job_and_the_pipeline_reports_timeout(
    rig: EngineRig, block_limit: str, job_limit: str
) -> None:
    text = LIMITED_JOB.format(block_limit=block_limit, job_limit=job_limit)
    commit_pipeline(rig, pipeline_yaml(text))
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    async with rig.app.state.db.session() as session:
        limits = {job.execution_time_limit for job in await session.scalars(select(Job))}
    assert limits == {60}
    running = await rig.take()
    db = rig.app.state.db
    async with db.session() as session:
        job = await session.get(Job, running.id)
        assert job is not None
        assert job.started_at is not None
        job.started_at -= timedelta(seconds=61)  # a minute passes
    await Reaper(db, rig.app.state.wakeups, 60).run_once()
    assert (await running.agent.sync("running-job", running.id))["action"] == "stop-job"
    await running.report("stopped")
    await rig.settle()
    assert await rig.state(ppl) == ("done", "stopped", "timeout")
    assert (await rig.pipeline(ppl))["blocks"][0]["result_reason"] == "timeout"


async def test_pipeline_time_limit_stops_the_pipeline(rig: EngineRig) -> None:
    commit_pipeline(
        rig,
        pipeline_yaml(block("Only", "job"), head="execution_time_limit:\n  minutes: 2\n"),
    )
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    running = await rig.take()
    assert running.payload["job_id"] == running.id
    async with rig.app.state.db.session() as session:
        pipeline = await session.get(Pipeline, ppl)
        assert pipeline is not None
        assert pipeline.running_at is not None
        pipeline.running_at -= timedelta(minutes=2)  # two minutes pass
    await rig.settle()
    assert (await running.agent.sync("running-job", running.id))["action"] == "stop-job"
    await running.report("stopped")
    await rig.settle()
    assert await rig.state(ppl) == ("done", "stopped", "timeout")


async def test_after_pipeline_jobs_run_once_the_pipeline_is_done(rig: EngineRig) -> None:
    commit_pipeline(
        rig,
        pipeline_yaml(block("Only", "job"))
        + "after_pipeline:\n  task:\n    jobs:\n"
        + "      - name: Notify\n        commands: [echo done]\n",
    )
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    main = await rig.take()
    assert main.name == "job"
    await main.report("failed")
    await rig.settle()
    assert await rig.state(ppl) == ("done", "failed", "test")
    after = await rig.take()
    assert after.name == "Notify"
    env = {e["name"]: base64.b64decode(e["value"]).decode() for e in after.payload["env_vars"]}
    assert env["SEMAPHORE_PIPELINE_RESULT"] == "failed"
    assert env["SEMAPHORE_PIPELINE_RESULT_REASON"] == "test"
    await after.report()
    assert "Notify" not in await rig.jobs(ppl)  # not a block's job


async def test_malformed_yaml_ends_done_failed_malformed(rig: EngineRig) -> None:
    commit_pipeline(rig, "version: v1.0\nname: broken\nblocks: 12\n")
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    body = (await rig.pipeline(ppl))["pipeline"]
    assert (body["state"], body["result"], body["result_reason"]) == ("done", "failed", "malformed")
    assert "blocks" in body["error_description"]


async def test_missing_pipeline_file_and_unknown_secret_are_malformed(rig: EngineRig) -> None:
    missing = (await rig.run(pipeline_file=".semaphore/nope.yml"))["pipeline_id"]
    commit_pipeline(
        rig,
        pipeline_yaml(
            "  - name: S\n    task:\n      secrets:\n        - name: nowhere\n"
            "      jobs:\n        - name: j\n          commands: [echo]\n"
        ),
    )
    secretless = (await rig.run())["pipeline_id"]
    await rig.settle()
    for ppl, words in (
        (missing, ".semaphore/nope.yml"),
        (secretless, "Secret 'nowhere' not found"),
    ):
        body = (await rig.pipeline(ppl))["pipeline"]
        assert (body["state"], body["result"], body["result_reason"]) == (
            "done",
            "failed",
            "malformed",
        )
        assert words in body["error_description"]


async def test_unknown_reference_commit_and_repository_are_clear_errors(
    rig: EngineRig, admin: httpx.AsyncClient
) -> None:
    cases = [
        ({"reference": "refs/heads/nope"}, 400, "reference"),
        ({"reference": "master"}, 400, "reference"),
        ({"reference": "refs/heads/master", "commit_sha": "abc123"}, 400, "commit_sha"),
        ({"reference": "refs/heads/master", "commit_sha": "zz"}, 400, "commit_sha"),
        ({"reference": "refs/heads/master", "pipeline_file": "../x.yml"}, 400, "pipeline_file"),
        ({"reference": "refs/heads/master", "project_id": "nope"}, 404, "project"),
        ({}, 400, "reference"),
    ]
    for extra, status, word in cases:
        body = {"project_id": rig.project_id, **extra}
        response = await admin.post(f"{API}/plumber-workflows", json=body)
        assert response.status_code == status, (extra, response.text)
        assert word in response.json()["message"], (extra, response.text)
    gone = await admin.post(
        f"{API}/projects",
        json={"metadata": {"name": "gone"}, "spec": {"repository": {"url": "/no/such/repo"}}},
    )
    response = await admin.post(
        f"{API}/plumber-workflows",
        json={"project_id": gone.json()["metadata"]["id"], "reference": "refs/heads/master"},
    )
    assert response.status_code == 422
    assert "/no/such/repo" in response.json()["message"]
    listed = await admin.get(f"{API}/plumber-workflows", params={"project_id": rig.project_id})
    assert listed.json() == []  # nothing half-made was stored


async def test_reschedule_with_the_same_token_returns_the_same_workflow(rig: EngineRig) -> None:
    first = await rig.run()
    url = f"{API}/plumber-workflows/{first['workflow_id']}/reschedule"
    again = await rig.api.post(url, params={"request_token": "tok-1"})
    assert again.status_code == 200, again.text
    same = await rig.api.post(url, params={"request_token": "tok-1"})
    other = await rig.api.post(url, params={"request_token": "tok-2"})
    assert same.json() == again.json()
    assert other.json()["wf_id"] != again.json()["wf_id"]
    assert set(again.json()) == {"wf_id", "ppl_id"}
    missing = await rig.api.post(url)
    assert missing.status_code == 400
    assert "request_token" in missing.json()["message"]
    described = await rig.api.get(f"{API}/plumber-workflows/{again.json()['wf_id']}")
    assert described.json()["workflow"]["commit_sha"] == rig.repo.git("rev-parse", "HEAD")
    await rig.settle()
    async with rig.app.state.db.session() as session:
        rerun = await session.get(Pipeline, again.json()["ppl_id"])
        assert rerun is not None
        assert rerun.state != "initializing"


async def test_pipeline_survives_a_new_engine_mid_run(rig: EngineRig, app: FastAPI) -> None:
    """What the database says is all a (re)started engine needs."""
    ppl = (await rig.run())["pipeline_id"]
    await rig.settle()
    first = await rig.take()
    await rig.engine.stop()
    from blockpost.engine.service import Engine

    rig.engine = Engine(app.state.engine, tick=1.0)
    await first.report()
    await rig.settle()
    await rig.settle()  # a second look changes nothing: no job is started twice
    jobs = await rig.jobs(ppl)
    assert [j["status"] for j in jobs.values()] == ["FINISHED", "QUEUED", "QUEUED"]
    assert sorted(await rig.run_jobs()) == ["lint", "unit"]
    assert await rig.state(ppl) == ("done", "passed", "test")
