"""The project page (workflows, filters, the Run form, tasks) and the workflow page
(pipelines, promotion forms and their refusals), on a real repository and protocol agents."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.web.routes import project_page
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml
from tests.web.conftest import Browser, csrf_of, submit

BUILD = pipeline_yaml(block("Build", "compile")) + (
    "promotions:\n"
    "  - name: Staging\n"
    "    pipeline_file: staging.yml\n"
    "  - name: Production\n"
    "    pipeline_file: production.yml\n"
    "    deployment_target: prod\n"
    "    parameters:\n"
    "      env_vars:\n"
    "        - name: DEPLOY_ENV\n"
    "          required: true\n"
    "          options: [eu, us]\n"
    "        - name: REASON\n"
    "          default_value: routine\n"
)
STAGING = pipeline_yaml(block("Stage", "stage"))
PRODUCTION = pipeline_yaml(block("Deploy", "deploy"))
WORKFLOW_LINK = re.compile(r'href="/ui/workflows/([0-9a-f-]{36})"')


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, BUILD)
    made.repo.commit(
        {".semaphore/staging.yml": STAGING, ".semaphore/production.yml": PRODUCTION},
        "Add deploy pipelines\n\nThe body is not shown in lists.",
    )
    yield made
    await made.close()


async def workflow_count(rig: EngineRig) -> int:
    listed = await rig.api.get(f"{API}/plumber-workflows", params={"project_id": rig.project_id})
    return len(listed.json())


async def test_the_project_page_lists_workflows_newest_first_and_filters_them(
    rig: EngineRig, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await rig.run()
    await rig.run_jobs()
    rig.repo.checkout("feature", new=True)
    rig.repo.commit({"feature.txt": "x\n"}, "Try a feature")
    second = await rig.run("refs/heads/feature")
    await rig.run_jobs({"compile": "failed"})
    rig.repo.tag("v1.0")
    tagged = await rig.run("refs/tags/v1.0")
    root = await browser("root", admin=True)

    shown = await root.get("/ui/projects/rig")
    assert shown.status_code == 200
    html = shown.text
    assert WORKFLOW_LINK.findall(html)[:3] == [
        tagged["workflow_id"],
        second["workflow_id"],
        first["workflow_id"],
    ]
    assert "Add deploy pipelines" in html
    assert "The body is not shown" not in html
    assert "Try a feature" in html
    assert "tag v1.0" in html
    assert 'class="badge s-passed"' in html
    assert 'class="badge s-failed"' in html
    by_id = await root.get(f"/ui/projects/{rig.project_id}")
    assert by_id.status_code == 200
    assert "<h1>rig</h1>" in by_id.text

    feature = await root.get("/ui/projects/rig", params={"branch": "feature"})
    assert WORKFLOW_LINK.findall(feature.text) == [second["workflow_id"]]
    assert 'name="branch" value="feature"' in feature.text
    failed = await root.get("/ui/projects/rig", params={"result": "failed"})
    assert WORKFLOW_LINK.findall(failed.text) == [second["workflow_id"]]
    assert '<option value="failed" selected>' in failed.text
    passed = await root.get("/ui/projects/rig", params={"result": "passed", "branch": "feature"})
    assert WORKFLOW_LINK.findall(passed.text) == []
    assert "No workflows match these filters." in passed.text
    running = await root.get("/ui/projects/rig", params={"result": "running"})
    assert WORKFLOW_LINK.findall(running.text) == [tagged["workflow_id"]]

    monkeypatch.setattr(project_page, "PAGE_SIZE", 2)
    newest = await root.get("/ui/projects/rig")
    assert WORKFLOW_LINK.findall(newest.text) == [tagged["workflow_id"], second["workflow_id"]]
    assert 'href="?branch=&amp;result=&amp;page_number=2">Older</a>' in newest.text
    oldest = await root.get("/ui/projects/rig", params={"page_number": "2"})
    assert WORKFLOW_LINK.findall(oldest.text) == [first["workflow_id"]]
    assert "Newer</a>" in oldest.text
    assert "Older</a>" not in oldest.text

    bad = await root.get("/ui/projects/rig", params={"result": "green"})
    assert bad.status_code == 400
    assert "result: must be one of passed, failed" in bad.text
    assert "text/html" in bad.headers["content-type"]


async def test_the_run_form_starts_a_workflow_and_bad_input_starts_nothing(
    rig: EngineRig, browser: Browser
) -> None:
    root = await browser("root", admin=True)
    started = await submit(
        root, "/ui/projects/rig", "/ui/projects/rig/run", {"reference": "master"}
    )
    assert started.status_code == 303
    wf_id = started.headers["location"].removeprefix("/ui/workflows/")
    described = await rig.api.get(f"{API}/plumber-workflows/{wf_id}")
    assert described.json()["workflow"]["branch_name"] == "master"
    shown = await root.get(started.headers["location"])
    assert shown.status_code == 200
    assert "Workflow #1 · master" in shown.text
    assert f'data-live="/ui/workflows/{wf_id}/pipelines"' in shown.text  # not done yet

    cases = [
        ({"reference": "no-such-branch"}, "no-such-branch"),
        ({"reference": "refs/heads/master", "pipeline_file": "../../etc/passwd"}, "pipeline_file"),
        ({"reference": "refs/nonsense/x"}, "reference"),
        ({"reference": "  "}, "reference: is required"),
    ]
    for fields, word in cases:
        refused = await submit(root, "/ui/projects/rig", "/ui/projects/rig/run", fields)
        assert refused.status_code == 400, (fields, refused.text)
        assert word in refused.text, (fields, refused.text)
        assert 'role="alert"' in refused.text
        # the form keeps what was typed, so it can be corrected
        assert f'value="{fields["reference"]}"' in refused.text
    assert await workflow_count(rig) == 1

    forged = await root.post("/ui/projects/rig/run", data={"reference": "master"})
    assert forged.status_code == 403
    assert await workflow_count(rig) == 1


async def test_tasks_are_listed_with_run_now_and_targets_are_linked(
    rig: EngineRig, browser: Browser
) -> None:
    definition = (
        "apiVersion: v1.0\nkind: Schedule\nmetadata:\n  name: nightly\n"
        "spec:\n  project: rig\n  branch: master\n  at: '0 3 * * *'\n"
    )
    made = await rig.api.post(f"{API}/schedules", json={"yml_definition": definition})
    assert made.status_code == 200, made.text
    target = await rig.api.post(
        f"{API}/deployment_targets",
        params={"project_id": rig.project_id},
        json={"name": "prod", "unique_token": "t1"},
    )
    assert target.status_code == 200, target.text
    root = await browser("root", admin=True)
    shown = await root.get("/ui/projects/rig")
    assert "nightly" in shown.text
    assert "0 3 * * *" in shown.text
    assert f'href="/ui/deployment_targets#target-{target.json()["id"]}">prod</a>' in shown.text
    ran = await submit(root, "/ui/projects/rig", f"/ui/projects/rig/tasks/{made.json()}/run", {})
    assert ran.status_code == 303
    wf_id = ran.headers["location"].removeprefix("/ui/workflows/")
    described = await rig.api.get(f"{API}/schedules/{made.json()}")
    (trigger,) = described.json()["triggers"]
    assert trigger["scheduled_workflow_id"] == wf_id
    listed = await root.get("/ui/projects/rig")
    assert "(schedule)" in listed.text


async def test_another_users_private_project_and_its_workflows_are_404_pages(
    rig: EngineRig, browser: Browser
) -> None:
    ids = await rig.run()
    mallory = await browser("mallory")
    token = csrf_of((await mallory.get("/ui/projects")).text)
    pages = [
        "/ui/projects/rig",
        f"/ui/projects/{rig.project_id}",
        f"/ui/workflows/{ids['workflow_id']}",
        f"/ui/workflows/{ids['workflow_id']}/pipelines",
        f"/ui/workflows/{ids['workflow_id']}/promotions",
    ]
    for url in pages:
        answer = await mallory.get(url)
        assert answer.status_code == 404, url
        assert "Not found" in answer.text
        assert "text/html" in answer.headers["content-type"]
    posts = [
        ("/ui/projects/rig/run", {"reference": "master"}),
        (
            f"/ui/workflows/{ids['workflow_id']}/promote",
            {"pipeline_id": ids["pipeline_id"], "name": "Staging"},
        ),
    ]
    for url, fields in posts:
        answer = await mallory.post(url, data={"csrf_token": token, **fields})
        assert answer.status_code == 404, url
    assert await workflow_count(rig) == 1
    missing = await mallory.get("/ui/workflows/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404


async def test_a_public_project_shows_to_everyone_but_only_its_runners_may_run(
    rig: EngineRig, browser: Browser
) -> None:
    patched = await rig.api.patch(f"{API}/projects/rig", json={"spec": {"visibility": "public"}})
    assert patched.status_code == 200, patched.text
    ids = await rig.run()
    await rig.run_jobs()
    viewer = await browser("viewer")
    shown = await viewer.get("/ui/projects/rig")
    assert shown.status_code == 200
    assert "/ui/projects/rig/run" not in shown.text
    workflow = await viewer.get(f"/ui/workflows/{ids['workflow_id']}")
    assert workflow.status_code == 200
    assert "Promote to Staging" not in workflow.text
    assert "Only the project's owner, members or an administrator may promote." in workflow.text
    assert 'name="param.DEPLOY_ENV"' in workflow.text
    token = csrf_of(shown.text)
    run = await viewer.post(
        "/ui/projects/rig/run", data={"csrf_token": token, "reference": "master"}
    )
    assert run.status_code == 403
    promote = await viewer.post(
        f"/ui/workflows/{ids['workflow_id']}/promote",
        data={"csrf_token": token, "pipeline_id": ids["pipeline_id"], "name": "Staging"},
    )
    assert promote.status_code == 403
    assert "only the project&#39;s owner, members or an administrator" in promote.text
    assert await workflow_count(rig) == 1


async def test_the_workflow_page_offers_promotions_and_explains_refusals(
    rig: EngineRig, browser: Browser
) -> None:
    await rig.api.post(
        f"{API}/deployment_targets",
        params={"project_id": rig.project_id},
        json={
            "name": "prod",
            "unique_token": "t1",
            "object_rules": [{"type": "BRANCH", "match_mode": "EXACT", "pattern": "release"}],
        },
    )
    ids = await rig.run()
    wf = f"/ui/workflows/{ids['workflow_id']}"
    root = await browser("root", admin=True)
    unread = await root.get(f"{wf}/promotions")  # the engine has not read the file yet
    assert unread.text.lstrip().startswith(
        f'<section class="promotions" data-live="{wf}/promotions"'
    )
    await rig.settle()
    forms = await root.get(f"{wf}/promotions")
    assert "data-live" not in forms.text  # known now; refreshing would reset what is typed
    assert "Promote to Production" in forms.text
    running = await root.get(wf)
    assert "Promote although this pipeline has not passed" in running.text
    not_passed = await submit(
        root, wf, f"{wf}/promote", {"pipeline_id": ids["pipeline_id"], "name": "Staging"}
    )
    assert not_passed.status_code == 400
    assert "the pipeline has not passed" in not_passed.text
    await rig.run_jobs()

    shown = await root.get(wf)
    html = shown.text
    assert "data-live=" not in html  # every pipeline is done: nothing to refresh
    assert "Promote although" not in html
    assert 'name="param.DEPLOY_ENV" required' in html
    assert 'DEPLOY_ENV <span class="required">(required)</span>' in html
    assert '<option value="eu">eu</option>' in html
    assert '<option value="us">us</option>' in html
    assert 'name="param.REASON" value="routine"' in html
    assert "Who may deploy: anyone who may run jobs in the project." in html
    assert "From: branches release (exact)." in html

    promote = f"{wf}/promote"
    base = {"pipeline_id": ids["pipeline_id"], "name": "Production"}
    missing = await submit(root, wf, promote, {**base, "param.REASON": "hotfix"})
    assert missing.status_code == 400
    assert "DEPLOY_ENV: is required by promotion &#39;Production&#39;" in missing.text
    assert 'name="param.REASON" value="hotfix"' in missing.text  # kept for a retry
    wrong = await submit(root, wf, promote, {**base, "param.DEPLOY_ENV": "mars"})
    assert wrong.status_code == 400
    assert "DEPLOY_ENV: must be one of eu, us" in wrong.text
    refused = await submit(root, wf, promote, {**base, "param.DEPLOY_ENV": "eu"})
    assert refused.status_code == 403
    assert "does not allow branch &#39;master&#39;" in refused.text
    assert "Past promotions" in refused.text  # the refusal is recorded, as the API records it
    listed = await rig.api.get(f"{API}/promotions", params={"pipeline_id": ids["pipeline_id"]})
    assert [(p["name"], p["status"]) for p in listed.json()] == [("Production", "failed")]

    staged = await submit(root, wf, promote, {"pipeline_id": ids["pipeline_id"], "name": "Staging"})
    assert staged.status_code == 303
    listed = await rig.api.get(f"{API}/promotions", params={"pipeline_id": ids["pipeline_id"]})
    new_id = listed.json()[0]["scheduled_pipeline_id"]
    assert staged.headers["location"] == f"{wf}#pipeline-{new_id}"
    after = await root.get(wf)
    assert f'id="pipeline-{new_id}"' in after.text
    assert "promoted from 1. by root" in after.text
    assert f'data-live="{wf}/pipelines"' in after.text  # the promoted pipeline runs
    part = await root.get(f"{wf}/pipelines")
    assert part.status_code == 200
    assert part.text.lstrip().startswith('<div class="pipelines"')
    await rig.run_jobs()
    done = await root.get(f"{wf}/pipelines")
    assert "data-live" not in done.text
    assert done.text.count("s-passed") == 2

    unknown = await submit(root, wf, promote, {"pipeline_id": ids["pipeline_id"], "name": "Nope"})
    assert unknown.status_code == 400
    assert "is not a promotion of this pipeline" in unknown.text
