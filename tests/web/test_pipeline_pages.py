"""The pipeline page (graph, jobs, why jobs wait, stop/rebuild/partial rebuild) and the job
page (log endpoint, raw download, stop), over HTTP with the same permissions as the API."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.artifacts.paths import Key
from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml
from tests.web.conftest import Browser, submit

YAML = pipeline_yaml(
    block("Build", "compile", extra="    dependencies: []\n"),
    block("Unit", "unit-a", "unit-b", extra="    dependencies: [Build]\n"),
    block("Lint", "lint", extra="    dependencies: [Build]\n"),
    block("Deploy", "deploy", extra="    dependencies: [Unit, Lint]\n"),
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, YAML)
    yield made
    await made.close()


def event(name: str, **fields: object) -> str:
    return json.dumps({"event": name, "timestamp": 1, **fields})


async def test_the_pipeline_page_draws_the_graph_lists_jobs_and_says_why_they_wait(
    rig: EngineRig, browser: Browser
) -> None:
    ids = await rig.run()
    await rig.settle()
    jobs = await rig.jobs(ids["pipeline_id"])
    root = await browser("root", admin=True)
    shown = await root.get(f"/ui/pipelines/{ids['pipeline_id']}")
    assert shown.status_code == 200, shown.text
    html = shown.text
    assert "<svg" in html
    assert "Content-Security-Policy" in shown.headers
    assert len(re.findall(r'<a href="#block-[0-9a-f-]+" class="node n-', html)) == 4
    # Build -> Unit, Build -> Lint, Unit -> Deploy, Lint -> Deploy
    assert len(re.findall(r'<path class="edge', html)) == 4
    for job in jobs.values():
        assert f'href="/ui/jobs/{job["job_id"]}"' in html
    # compile is queued for s1-local, where no agent has registered yet
    assert "waiting for an agent of type s1-local: none is connected" in html
    assert "waiting for block Build" in html
    assert f'data-live="/ui/pipelines/{ids["pipeline_id"]}/live"' in html
    assert ">Stop</button>" in html
    assert "Partial rebuild" not in html
    assert ' style="' not in html
    assert "<script>" not in html

    live = await root.get(f"/ui/pipelines/{ids['pipeline_id']}/live")
    assert live.status_code == 200
    assert live.text.lstrip().startswith('<section class="pipeline-live"')
    assert "data-live=" in live.text

    await rig.run_jobs()
    done = await root.get(f"/ui/pipelines/{ids['pipeline_id']}/live")
    assert 'data-state="passed"' in done.text
    assert "data-live=" not in done.text  # the page stops refreshing
    assert ">Stop</button>" not in done.text
    assert "Partial rebuild" not in done.text
    assert done.text.count("n-passed") == 4


async def test_others_get_the_404_page_for_the_pipeline_its_jobs_and_logs(
    rig: EngineRig, browser: Browser
) -> None:
    ids = await rig.run()
    await rig.settle()
    job_id = (await rig.jobs(ids["pipeline_id"]))["compile"]["job_id"]
    carol = await browser("carol")
    for path in (
        f"/ui/pipelines/{ids['pipeline_id']}",
        f"/ui/pipelines/{ids['pipeline_id']}/live",
        f"/ui/jobs/{job_id}",
        f"/ui/jobs/{job_id}/live",
        f"/ui/jobs/{job_id}/log",
        f"/ui/jobs/{job_id}/raw",
        "/ui/pipelines/00000000-0000-4000-8000-000000000000",
    ):
        answer = await carol.get(path)
        assert answer.status_code == 404, path
    page = await carol.get(f"/ui/pipelines/{ids['pipeline_id']}")
    assert "Not found" in page.text
    assert "text/html" in page.headers["content-type"]
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token
    for action in ("stop", "rebuild", "partial_rebuild"):
        refused = await carol.post(
            f"/ui/pipelines/{ids['pipeline_id']}/{action}",
            data={"csrf_token": token.group(1), "request_token": "t"},
        )
        assert refused.status_code == 404, action
    refused = await carol.post(f"/ui/jobs/{job_id}/stop", data={"csrf_token": token.group(1)})
    assert refused.status_code == 404
    assert await rig.state(ids["pipeline_id"]) == ("running", None, None)


async def test_stop_rebuild_and_partial_rebuild_act_and_refuse_what_cannot_be_done(
    rig: EngineRig, browser: Browser
) -> None:
    ids = await rig.run()
    await rig.settle()
    ppl = ids["pipeline_id"]
    page = f"/ui/pipelines/{ppl}"
    root = await browser("root", admin=True)
    without_token = await root.post(f"{page}/stop", data={})
    assert without_token.status_code == 403
    stopped = await submit(root, page, f"{page}/stop", {})
    assert stopped.status_code == 303
    assert stopped.headers["location"] == page
    await rig.settle()
    assert (await rig.state(ppl))[:2] == ("done", "stopped")
    # A second late click (the page a second behind) changes nothing and is no error.
    again = await submit(root, page, f"{page}/stop", {})
    assert again.status_code == 303
    assert (await rig.state(ppl))[:2] == ("done", "stopped")

    shown = (await root.get(page)).text
    assert "Partial rebuild" in shown
    assert 'data-confirm="' in shown
    no_token = await submit(root, page, f"{page}/partial_rebuild", {})
    assert no_token.status_code == 400
    assert "request_token" in no_token.text
    partial = await submit(root, page, f"{page}/partial_rebuild", {"request_token": "p-1"})
    assert partial.status_code == 303
    rebuilt = partial.headers["location"].rsplit("/", 1)[1]
    assert rebuilt != ppl
    assert (await rig.pipeline(rebuilt))["pipeline"]["partial_rerun_of"] == ppl
    same = await submit(root, page, f"{page}/partial_rebuild", {"request_token": "p-1"})
    assert same.headers["location"] == partial.headers["location"]

    await rig.run_jobs()
    assert (await rig.state(rebuilt))[:2] == ("done", "passed")
    passed = f"/ui/pipelines/{rebuilt}"
    refused = await submit(root, passed, f"{passed}/partial_rebuild", {"request_token": "p-2"})
    assert refused.status_code == 400
    assert "Pipelines which passed can not be partial rebuilt." in refused.text

    whole = await submit(root, passed, f"{passed}/rebuild", {"request_token": "r-1"})
    assert whole.status_code == 303
    new_ppl = whole.headers["location"].rsplit("/", 1)[1]
    new = (await rig.pipeline(new_ppl))["pipeline"]
    assert new["wf_id"] != ids["workflow_id"]
    assert new["triggerer"]["workflow_rerun_of"] == ids["workflow_id"]


async def test_the_job_page_serves_its_log_in_steps_raw_and_stops_the_job(
    rig: EngineRig, browser: Browser
) -> None:
    await rig.run()
    await rig.settle()
    taken = await rig.take()
    assert (await taken.agent.sync("starting-job", taken.id))["action"] == "continue"
    lines = [
        event("job_started"),
        event("cmd_started", directive="make test"),
        event("cmd_output", output="\x1b[32mok\x1b[0m one\nhalf a "),
        event("cmd_output", output="line\n"),
        event("cmd_finished", directive="make test", exit_code=0, started_at=1, finished_at=4),
    ]
    pushed = await taken.agent.client.post(
        f"/api/v1/logs/{taken.id}",
        params={"start_from": 0},
        content="\n".join(lines),
        headers={"Authorization": f"Bearer {taken.payload['logger']['token']}"},
    )
    assert pushed.status_code == 200, pushed.text
    root = await browser("root", admin=True)
    page = f"/ui/jobs/{taken.id}"
    shown = await root.get(page)
    assert shown.status_code == 200
    assert f'data-url="/ui/jobs/{taken.id}/log"' in shown.text
    assert "/ui/static/log.js" in shown.text
    assert ">Stop</button>" in shown.text
    assert 'data-live="' in shown.text

    first = (await root.get(f"/ui/jobs/{taken.id}/log")).json()
    assert [e["event"] for e in first["events"]][:3] == ["job_started", "cmd_started", "cmd_output"]
    assert first["next"] == 5
    assert first["finished"] is False
    rest = (await root.get(f"/ui/jobs/{taken.id}/log", params={"from": 3})).json()
    assert rest["events"][0]["output"] == "line\n"
    assert rest["next"] == 5
    bad = await root.get(f"/ui/jobs/{taken.id}/log", params={"from": -1})
    assert bad.status_code in (400, 422)

    raw = await root.get(f"/ui/jobs/{taken.id}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-disposition"] == f'attachment; filename="job-{taken.id}.log"'
    assert raw.text == "make test\n\x1b[32mok\x1b[0m one\nhalf a line\n"

    stopped = await submit(root, page, f"{page}/stop", {})
    assert stopped.status_code == 303
    assert stopped.headers["location"] == page
    described = (await rig.api.get(f"{API}/jobs/{taken.id}")).json()
    assert described["status"]["result_reason"] == "stopped by root"
    await taken.agent.sync("finished-job", taken.id, "stopped")
    finished = (await root.get(page)).text
    assert ">Stop</button>" not in finished
    assert 'data-live="' not in finished
    assert (await root.get(f"/ui/jobs/{taken.id}/log")).json()["finished"] is True
    late = await submit(root, page, f"{page}/stop", {})
    assert late.status_code == 303
    assert (await rig.api.get(f"{API}/jobs/{taken.id}")).json()["status"]["result"] == "STOPPED"


REPORT = b"""<testsuites><testsuite name="pytest" tests="2" time="0.5">
<testcase classname="tests.test_cart" name="test_adds" time="0.25"/>
<testcase classname="tests.test_cart" name="test_totals" time="0.125">
<failure message="assert 4 == 3">assert total(cart) == 3</failure></testcase>
</testsuite></testsuites>
"""


async def test_a_done_pipeline_shows_its_test_results_and_artifacts_to_download(
    app: FastAPI, rig: EngineRig, browser: Browser, anon: httpx.AsyncClient
) -> None:
    ids = await rig.run()
    await rig.settle()
    taken = await rig.take()
    env = {e["name"]: e["value"] for e in taken.payload["env_vars"]}
    token = base64.b64decode(env["SEMAPHORE_ARTIFACT_TOKEN"]).decode()
    published = await anon.post(
        "/api/v1/test_results?file=junit.xml&name=&parser=auto&suite_prefix=",
        content=REPORT,
        headers={"authorization": token, "Content-Type": "application/xml"},
    )
    assert published.status_code == 201, published.text

    async def body() -> AsyncIterator[bytes]:
        yield b"tarball bytes"

    store = app.state.artifact_store
    await store.write(Key("workflows", ids["workflow_id"], "dist/app.tar").text, body())
    await taken.report("failed")
    await rig.settle()
    assert (await rig.state(ids["pipeline_id"]))[:2] == ("done", "failed")

    root = await browser("root", admin=True)
    html = (await root.get(f"/ui/pipelines/{ids['pipeline_id']}")).text
    assert "2 tests: 1 passed, 1 failed" in html
    assert f'<a href="/ui/jobs/{taken.id}">tests.test_cart.test_totals</a>' in html
    assert "assert 4 == 3" in html
    link = re.search(r'<a href="(/api/v1alpha/artifacts/download\?[^"]+)">dist/app.tar</a>', html)
    assert link
    download = await root.get(link.group(1).replace("&amp;", "&"))
    assert download.status_code == 307
    fetched = await root.get(download.headers["location"])
    assert fetched.content == b"tarball bytes"
    carol = await browser("carol")
    assert (await carol.get(link.group(1).replace("&amp;", "&"))).status_code == 404


async def test_a_malformed_pipeline_shows_why_and_no_graph(
    rig: EngineRig, browser: Browser
) -> None:
    rig.repo.commit({".semaphore/semaphore.yml": "version: v1.0\nblocks: 3\n"}, "broken")
    ids = await rig.run()
    await rig.settle()
    root = await browser("root", admin=True)
    html = (await root.get(f"/ui/pipelines/{ids['pipeline_id']}")).text
    assert 'class="flash bad pipeline-error"' in html
    assert "blocks" in html.split("pipeline-error", 1)[1]
    assert "<svg" not in html
    assert "data-live=" not in html


async def test_a_standalone_job_has_its_page_with_no_pipeline(
    rig: EngineRig, browser: Browser
) -> None:
    created = await rig.api.post(
        f"{API}/jobs",
        json={
            "metadata": {"name": "one-off"},
            "spec": {
                "project_id": rig.project_id,
                "agent": {"machine": {"type": "s1-local"}},
                "commands": ["true"],
            },
        },
    )
    assert created.status_code == 200, created.text
    job_id = created.json()["metadata"]["id"]
    root = await browser("root", admin=True)
    shown = await root.get(f"/ui/jobs/{job_id}")
    assert shown.status_code == 200
    assert "<h1>one-off</h1>" in shown.text
    assert "/ui/pipelines/" not in shown.text
    assert "This job waits: waiting for an agent of type s1-local: none is connected." in shown.text
    carol = await browser("carol")
    assert (await carol.get(f"/ui/jobs/{job_id}")).status_code == 404


async def test_a_pipeline_behind_another_in_its_queue_says_so(
    rig: EngineRig, browser: Browser
) -> None:
    first = await rig.run()
    await rig.settle()
    second = await rig.run()
    await rig.settle()
    assert (await rig.state(second["pipeline_id"]))[0] == "queuing"
    root = await browser("root", admin=True)
    html = (await root.get(f"/ui/pipelines/{second['pipeline_id']}")).text
    assert "This pipeline waits: waiting for the pipeline ahead of it in the same queue" in html
    assert f'<a href="/ui/pipelines/{first["pipeline_id"]}">the one ahead</a>' in html
    assert html.count('class="node n-waiting"') == 4
