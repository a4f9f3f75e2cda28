"""`sem get wf`, `sem get ppl` and scripts' list filters, shaped as the CLI sends them
(api/client/workflows_v1_alpha.go, pipelines_v1_alpha.go) and read as its models read
the answers (api/models/workflow_v1_alpha.go, pipeline_v1_alpha.go)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


async def _created_seconds(rig: EngineRig, wf_id: str) -> int:
    body = (await rig.api.get(f"{API}/plumber-workflows/{wf_id}")).json()
    return int(body["workflow"]["created_at"]["seconds"])


async def test_sem_get_wf_lists_with_created_after_and_before(rig: EngineRig) -> None:
    first = await rig.run()
    seconds = await _created_seconds(rig, first["workflow_id"])
    # `sem get wf -p rig --created-after N` sends project_id and created_after only
    listed = await rig.api.get(
        f"{API}/plumber-workflows?created_after={seconds - 1}&project_id={rig.project_id}"
    )
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()
    assert row["wf_id"] == first["workflow_id"]
    assert row["initial_ppl_id"] == first["pipeline_id"]
    assert row["branch_name"] == "master"
    assert row["created_at"]["seconds"] == seconds
    assert (row["triggered_by"], row["rerun_of"]) == (2, "")  # API, as a number in lists

    later = await rig.api.get(
        f"{API}/plumber-workflows",
        params={"project_id": rig.project_id, "created_after": seconds + 1},
    )
    assert later.json() == []
    earlier = await rig.api.get(
        f"{API}/plumber-workflows",
        params={"project_id": rig.project_id, "created_before": seconds + 1},
    )
    assert [w["wf_id"] for w in earlier.json()] == [first["workflow_id"]]
    too_early = await rig.api.get(
        f"{API}/plumber-workflows", params={"project_id": rig.project_id, "created_before": 5}
    )
    assert too_early.json() == []


async def test_workflow_list_filters_by_label_ref_type_and_requester(rig: EngineRig) -> None:
    rig.repo.tag("v1.0")
    on_branch = await rig.run()
    on_tag = await rig.run("refs/tags/v1.0")

    async def listed(**params: str) -> list[str]:
        response = await rig.api.get(
            f"{API}/plumber-workflows", params={"project_id": rig.project_id, **params}
        )
        assert response.status_code == 200, response.text
        return [row["wf_id"] for row in response.json()]

    assert await listed(label="v1.0") == [on_tag["workflow_id"]]
    assert await listed(label="master") == [on_branch["workflow_id"]]
    assert await listed(git_ref_types="tag") == [on_tag["workflow_id"]]
    assert await listed(git_ref_types="branch,pr") == [on_branch["workflow_id"]]
    assert len(await listed(git_ref_types="BRANCH,TAG")) == 2
    both = await rig.api.get(
        f"{API}/plumber-workflows?project_id={rig.project_id}"
        "&git_ref_types=branch&git_ref_types=tag"
    )
    assert len(both.json()) == 2
    described = await rig.api.get(f"{API}/plumber-workflows/{on_tag['workflow_id']}")
    assert len(await listed(requester_id=described.json()["workflow"]["requester_id"])) == 2
    assert await listed(requester_id="00000000-0000-0000-0000-000000000000") == []

    pipelines = await rig.api.get(
        f"{API}/pipelines", params={"project_id": rig.project_id, "label": "v1.0"}
    )
    assert [p["ppl_id"] for p in pipelines.json()] == [on_tag["pipeline_id"]]
    pipelines = await rig.api.get(
        f"{API}/pipelines", params={"project_id": rig.project_id, "git_ref_types": "branch"}
    )
    assert [p["ppl_id"] for p in pipelines.json()] == [on_branch["pipeline_id"]]


async def test_bad_list_filters_are_400_naming_the_field(rig: EngineRig) -> None:
    cases = [
        ("plumber-workflows", {"git_ref_types": "branch,trunk"}, "git_ref_types"),
        ("plumber-workflows", {"created_after": "-5"}, "created_after"),
        ("plumber-workflows", {"created_before": "yesterday"}, "created_before"),
        ("pipelines", {"git_ref_types": "merge"}, "git_ref_types"),
        ("pipelines", {"created_after": "99999999999999"}, "created_after"),
    ]
    for path, params, field in cases:
        response = await rig.api.get(
            f"{API}/{path}", params={"project_id": rig.project_id, **params}
        )
        assert response.status_code == 400, (path, params, response.text)
        assert field in response.json()["message"]


async def test_sem_get_ppl_shows_a_running_pipeline_without_result(rig: EngineRig) -> None:
    ids = await rig.run()
    await rig.settle()
    # `sem get ppl ID` (DescribePpl): GET pipelines/ID?detailed=true
    response = await rig.api.get(f"{API}/pipelines/{ids['pipeline_id']}?detailed=true")
    assert response.status_code == 200, response.text
    pipeline = response.json()["pipeline"]
    assert pipeline["state"] == "running"
    assert "result" not in pipeline
    assert "result_reason" not in pipeline
    (only,) = response.json()["blocks"]
    assert only["state"] == "running"
    assert "result" not in only
    assert "result_reason" not in only

    await rig.run_jobs()
    done = (await rig.api.get(f"{API}/pipelines/{ids['pipeline_id']}?detailed=true")).json()
    assert (done["pipeline"]["result"], done["pipeline"]["result_reason"]) == ("passed", "test")


async def test_sem_get_ppl_shows_commit_message_and_triggerer(rig: EngineRig) -> None:
    rig.repo.commit({"README": "hello\n"}, "Add a README\n\nWith a body line.")
    ids = await rig.run()
    await rig.run_jobs()
    workflow = (await rig.api.get(f"{API}/plumber-workflows/{ids['workflow_id']}")).json()
    requester = workflow["workflow"]["requester_id"]

    pipeline = (await rig.pipeline(ids["pipeline_id"]))["pipeline"]
    assert pipeline["commit_message"] == "Add a README\n\nWith a body line."
    assert (pipeline["promotion_of"], pipeline["partial_rerun_of"]) == ("", "")
    assert workflow["workflow"]["triggered_by"] == "API"
    assert workflow["workflow"]["rerun_of"] == ""
    # describe answers Semaphore's raw message: enums as numbers (API 2, WORKFLOW 0)
    assert pipeline["triggerer"] == {
        "wf_triggered_by": 2,
        "wf_triggerer_id": "",
        "wf_triggerer_user_id": requester,
        "wf_triggerer_provider_login": "",
        "wf_triggerer_provider_uid": "",
        "wf_triggerer_provider_avatar": "",
        "ppl_triggered_by": 0,
        "ppl_triggerer_id": ids["workflow_id"],
        "ppl_triggerer_user_id": requester,
        "workflow_rerun_of": "",
    }

    # `sem get ppl -p rig`: ListPplWithOptions pages with page_size=200
    listed = await rig.api.get(f"{API}/pipelines?page=1&page_size=200&project_id={rig.project_id}")
    (row,) = listed.json()
    assert row["commit_message"] == "Add a README\n\nWith a body line."
    assert row["triggerer"]["wf_triggered_by"] == "API"
    assert row["triggerer"]["ppl_triggered_by"] == "WORKFLOW"


async def test_a_rerun_workflow_names_the_one_it_reruns(rig: EngineRig) -> None:
    first = await rig.run()
    again = await rig.api.post(
        f"{API}/plumber-workflows/{first['workflow_id']}/reschedule?request_token=t1"
    )
    assert again.status_code == 200, again.text
    described = await rig.api.get(f"{API}/plumber-workflows/{again.json()['wf_id']}")
    assert described.json()["workflow"]["rerun_of"] == first["workflow_id"]
    pipeline = (await rig.pipeline(again.json()["ppl_id"], detailed=False))["pipeline"]
    assert pipeline["triggerer"]["workflow_rerun_of"] == first["workflow_id"]


async def test_pipeline_list_totals_count_what_the_filters_keep(rig: EngineRig) -> None:
    rig.repo.tag("v1.0")
    for reference in ("refs/heads/master", "refs/heads/master", "refs/tags/v1.0"):
        await rig.run(reference)

    async def total(**params: str) -> tuple[str, str]:
        response = await rig.api.get(
            f"{API}/pipelines", params={"project_id": rig.project_id, "page_size": 1, **params}
        )
        assert response.status_code == 200, response.text
        return response.headers["total"], response.headers["x-has-more"]

    assert await total() == ("3", "true")
    assert await total(git_ref_types="tag") == ("1", "false")
    assert await total(label="master") == ("2", "true")
    assert await total(yml_file_path=".semaphore/semaphore.yml", label="master") == ("2", "true")
