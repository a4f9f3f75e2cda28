"""Promotions and deployment targets: manual and automatic promotions, parameters, rules,
target secrets and history, on a real git repository with protocol agents."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TARGET_KEYS = {
    "url", "updated_by", "updated_at", "subject_rules", "state_message", "state", "project_id",
    "organization_id", "object_rules", "name", "last_deployment", "id", "description",
    "created_by", "created_at", "bookmark_parameter3", "bookmark_parameter2",
    "bookmark_parameter1", "active",
}  # fmt: skip
DEPLOYMENT_KEYS = {
    "triggered_by", "triggered_at", "target_name", "target_id", "switch_id", "state_message",
    "state", "prev_pipeline_id", "pipeline_id", "id", "env_vars",
}  # fmt: skip
PROMOTION_KEYS = {
    "triggered_by", "triggered_at", "status", "scheduled_pipeline_id", "scheduled_at",
    "override", "name",
}  # fmt: skip
TARGET_SECRET = "target-secret-value-never-shown"
BUILD = pipeline_yaml(block("Build", "compile")) + (
    "promotions:\n"
    "  - name: Staging\n"
    "    pipeline_file: staging.yml\n"
    "    auto_promote:\n"
    "      when: \"result = 'passed' and branch = 'master'\"\n"
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


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, BUILD)
    made.repo.commit(
        {".semaphore/staging.yml": STAGING, ".semaphore/production.yml": PRODUCTION}, "promotions"
    )
    yield made
    await made.close()


async def make_target(rig: EngineRig, token: str = "tok-create", **fields: Any) -> dict[str, Any]:
    body = {
        "name": "prod",
        "unique_token": token,
        "description": "production",
        "url": "https://example.com",
        "bookmark_parameter1": "DEPLOY_ENV",
        "env_vars": [{"name": "TARGET_KEY", "value": TARGET_SECRET}],
        "files": [{"path": ".target/cfg", "content": base64.b64encode(b"cfg").decode()}],
        **fields,
    }
    response = await rig.api.post(
        f"{API}/deployment_targets", params={"project_id": rig.project_id}, json=body
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def passed_build(rig: EngineRig, reference: str = "refs/heads/master") -> str:
    ppl = (await rig.run(reference))["pipeline_id"]
    await rig.run_jobs()
    return ppl


async def promote(rig: EngineRig, ppl: str, name: str, **extra: Any) -> httpx.Response:
    return await rig.api.post(f"{API}/promotions", json={"pipeline_id": ppl, "name": name, **extra})


async def test_auto_and_manual_promotions_start_pipelines_in_the_workflow(rig: EngineRig) -> None:
    await make_target(rig)
    ids = await rig.run()
    ran = await rig.run_jobs()
    assert ran == ["compile", "stage"]  # Staging promoted itself when Build passed
    listed = await rig.api.get(f"{API}/promotions", params={"pipeline_id": ids["pipeline_id"]})
    (auto,) = listed.json()
    assert set(auto) == PROMOTION_KEYS
    assert (auto["name"], auto["status"], auto["triggered_by"]) == (
        "Staging",
        "passed",
        "Pipeline Done request",
    )
    assert auto["scheduled_at"]["seconds"] > 0
    staging = await rig.pipeline(auto["scheduled_pipeline_id"])
    assert staging["pipeline"]["wf_id"] == ids["workflow_id"]
    assert staging["pipeline"]["yaml_file_name"] == "staging.yml"
    assert (staging["pipeline"]["state"], staging["pipeline"]["result"]) == ("done", "passed")

    missing = await promote(rig, ids["pipeline_id"], "Production")
    assert missing.status_code == 400
    assert "DEPLOY_ENV" in missing.json()["message"]
    wrong = await promote(rig, ids["pipeline_id"], "Production", DEPLOY_ENV="mars")
    assert wrong.status_code == 400
    assert "eu, us" in wrong.json()["message"]
    unknown = await promote(rig, ids["pipeline_id"], "Nowhere")
    assert unknown.status_code == 400
    assert "name" in unknown.json()["message"]

    # form body, as the reference's curl sends it
    done = await rig.api.post(
        f"{API}/promotions",
        data={"pipeline_id": ids["pipeline_id"], "name": "Production", "DEPLOY_ENV": "eu"},
    )
    assert done.status_code == 200, done.text
    assert done.json() == "Promotion successfully triggered."  # Semaphore's answer
    await rig.settle()
    taken = await rig.take()
    assert taken.name == "deploy"
    env = {e["name"]: base64.b64decode(e["value"]).decode() for e in taken.payload["env_vars"]}
    assert env["DEPLOY_ENV"] == "eu"
    assert env["REASON"] == "routine"  # the default
    assert env["TARGET_KEY"] == TARGET_SECRET  # the target's secret
    assert env["SEMAPHORE_PIPELINE_PROMOTION"] == "true"
    assert env["SEMAPHORE_PIPELINE_PROMOTED_BY"] == "admin"
    assert env["SEMAPHORE_PIPELINE_0_ARTEFACT_ID"] == ids["pipeline_id"]
    assert {f["path"] for f in taken.payload["files"]} == {".target/cfg"}
    job = await rig.api.get(f"{API}/jobs/{taken.id}")
    assert TARGET_SECRET not in job.text
    await taken.report()


async def test_override_promotes_a_failed_pipeline(rig: EngineRig) -> None:
    ppl = (await rig.run())["pipeline_id"]
    await rig.run_jobs({"compile": "failed"})
    assert (await rig.state(ppl))[1] == "failed"
    refused = await promote(rig, ppl, "Staging")
    assert refused.status_code == 400
    assert "override" in refused.json()["message"]
    forced = await promote(rig, ppl, "Staging", override=True)
    assert forced.status_code == 200, forced.text
    (only,) = (await rig.api.get(f"{API}/promotions", params={"pipeline_id": ppl})).json()
    assert only["override"] is True
    assert only["triggered_by"] != "Pipeline Done request"


async def test_target_rules_refuse_and_history_records_every_attempt(rig: EngineRig) -> None:
    target = await make_target(
        rig,
        object_rules=[{"type": "BRANCH", "match_mode": "EXACT", "pattern": "master"}],
    )
    on_master = await passed_build(rig)
    rig.repo.checkout("feature", new=True)
    on_feature = await passed_build(rig, "refs/heads/feature")
    refused = await promote(rig, on_feature, "Production", DEPLOY_ENV="us")
    assert refused.status_code == 403
    assert "feature" in refused.json()["message"]
    allowed = await promote(rig, on_master, "Production", DEPLOY_ENV="eu")
    assert allowed.status_code == 200, allowed.text

    cordoned = await rig.api.patch(f"{API}/deployment_targets/{target['id']}/deactivate")
    assert cordoned.json() == {"target_id": target["id"], "cordoned": True}
    blocked = await promote(rig, on_master, "Production", DEPLOY_ENV="eu")
    assert blocked.status_code == 403
    assert "deactivated" in blocked.json()["message"]
    active = await rig.api.patch(f"{API}/deployment_targets/{target['id']}/activate")
    assert active.json() == {"target_id": target["id"], "cordoned": False}
    assert (await promote(rig, on_master, "Production", DEPLOY_ENV="us")).status_code == 200

    history = (await rig.api.get(f"{API}/deployment_targets/{target['id']}/history")).json()
    assert set(history) == {"deployments", "cursor_before", "cursor_after"}
    states = [(d["state"], d["env_vars"][0]["value"]) for d in history["deployments"]]
    assert states == [("STARTED", "us"), ("FAILED", "eu"), ("STARTED", "eu"), ("FAILED", "us")]
    newest = history["deployments"][0]
    assert set(newest) == DEPLOYMENT_KEYS
    assert ISO.match(newest["triggered_at"])
    assert newest["prev_pipeline_id"] == on_master
    assert history["deployments"][3]["pipeline_id"] == ""  # refused: nothing started
    by_label = await rig.api.get(
        f"{API}/deployment_targets/{target['id']}/history", params={"git_ref_label": "feature"}
    )
    assert [d["state"] for d in by_label.json()["deployments"]] == ["FAILED"]
    described = (await rig.api.get(f"{API}/deployment_targets/{target['id']}")).json()
    assert described["last_deployment"]["id"] == newest["id"]

    audit = await rig.api.get(f"{API}/audit", params={"resource_type": "promotion"})
    by_admin = [e for e in audit.json() if e["actor"]["name"] == "admin"]
    assert [("refused" in e["details"], e["resource"]["name"]) for e in by_admin] == [
        (False, "Production"),
        (True, "Production"),
        (False, "Production"),
        (True, "Production"),
    ]
    automatic = {e["resource"]["name"] for e in audit.json() if e["actor"]["id"] is None}
    assert automatic == {"Staging"}


async def test_auto_promotion_needs_the_auto_subject_rule(rig: EngineRig) -> None:
    text = BUILD.replace(
        "pipeline_file: staging.yml\n", "pipeline_file: staging.yml\n    deployment_target: prod\n"
    )
    rig.repo.commit({".semaphore/semaphore.yml": text}, "staging through prod")
    target = await make_target(rig)  # subject rules default to ANY: no AUTO
    ppl = await passed_build(rig)
    (auto,) = (await rig.api.get(f"{API}/promotions", params={"pipeline_id": ppl})).json()
    assert auto["status"] == "failed"
    history = (await rig.api.get(f"{API}/deployment_targets/{target['id']}/history")).json()
    assert history["deployments"][0]["state"] == "FAILED"
    assert "auto-promotions" in history["deployments"][0]["state_message"]
    await rig.api.patch(
        f"{API}/deployment_targets/{target['id']}",
        json={"subject_rules": [{"type": "AUTO"}, {"type": "ANY"}]},
    )
    again = await passed_build(rig)
    (auto,) = (await rig.api.get(f"{API}/promotions", params={"pipeline_id": again})).json()
    assert auto["status"] == "passed"


async def test_targets_are_idempotent_by_unique_token_and_keep_secrets_sealed(
    rig: EngineRig,
) -> None:
    first = await make_target(rig, token="same", name="Production deploy")
    again = await make_target(rig, token="same")
    assert again["id"] == first["id"]
    assert set(first) == TARGET_KEYS
    assert (first["state"], first["active"], first["last_deployment"]) == ("USABLE", True, None)
    assert first["subject_rules"] == [{"type": "ANY", "subject_id": ""}]
    assert [r["type"] for r in first["object_rules"]] == ["BRANCH", "TAG", "PR"]
    assert ISO.match(first["created_at"])
    listed = await rig.api.get(f"{API}/deployment_targets", params={"project_id": rig.project_id})
    assert [t["id"] for t in listed.json()] == [first["id"]]
    assert TARGET_SECRET not in listed.text
    by_name = await rig.api.get(
        f"{API}/deployment_targets",
        params={"project_id": rig.project_id, "target_name": "Production deploy"},
    )
    assert [t["id"] for t in by_name.json()] == [first["id"]]
    described = await rig.api.get(f"{API}/deployment_targets/{first['id']}")
    assert TARGET_SECRET not in described.text
    md5 = hashlib.md5(TARGET_SECRET.encode()).hexdigest()
    assert described.json()["env_vars"] == [{"name": "TARGET_KEY", "value": md5}]

    patched = await rig.api.patch(
        f"{API}/deployment_targets/{first['id']}",
        json={"description": "changed", "unique_token": "upd-1"},
    )
    assert patched.json()["description"] == "changed"
    url = f"{API}/deployment_targets/{first['id']}"
    deleted = await rig.api.delete(url, params={"unique_token": "del-1"})
    assert deleted.json() == {"target_id": first["id"]}
    retried = await rig.api.delete(url, params={"unique_token": "del-1"})
    assert retried.status_code == 200
    assert retried.json() == {"target_id": first["id"]}
    assert (await rig.api.get(url)).status_code == 404
    reused = await rig.api.delete(url, params={"unique_token": "upd-1"})
    assert reused.status_code == 409


async def test_history_pages_with_every_cursor_type(rig: EngineRig) -> None:
    target = await make_target(rig)
    ppl = await passed_build(rig)
    for n in range(13):
        env = "eu" if n % 2 else "us"
        assert (await promote(rig, ppl, "Production", DEPLOY_ENV=env)).status_code == 200
    url = f"{API}/deployment_targets/{target['id']}/history"
    first = (await rig.api.get(url)).json()
    assert len(first["deployments"]) == 10
    assert first["cursor_after"] == 0
    assert first["cursor_before"] > 0
    older = (
        await rig.api.get(
            url, params={"cursor_type": "BEFORE", "cursor_value": first["cursor_before"]}
        )
    ).json()
    assert len(older["deployments"]) == 3
    assert older["cursor_before"] == 0
    assert older["cursor_after"] > 0  # ten newer ones exist
    seen = [d["id"] for d in first["deployments"] + older["deployments"]]
    assert len(set(seen)) == 13
    newer = (
        await rig.api.get(
            url, params={"cursor_type": "AFTER", "cursor_value": older["cursor_after"]}
        )
    ).json()
    assert [d["id"] for d in newer["deployments"]] == seen[:10]  # the 10 after the oldest 3
    for params in (
        {"cursor_type": "AFTER"},
        {"cursor_type": "SIDEWAYS"},
        {"git_ref_type": "svn"},
        {"cursor_value": "soon"},
    ):
        bad = await rig.api.get(url, params=params)
        assert bad.status_code == 400, params
        assert bad.json()["message"]


async def test_bad_target_input_is_400_naming_the_field(rig: EngineRig) -> None:
    def named(**fields: Any) -> dict[str, Any]:
        return {"name": "x", "unique_token": "t", **fields}

    bad_regex = [{"type": "BRANCH", "match_mode": "REGEX", "pattern": "("}]
    cases = [
        ({"name": "x"}, "unique_token"),
        (named(env_vars=[{"name": "1X", "value": ""}]), "env_vars.0.name"),
        ({"unique_token": "t"}, "name"),
        (named(subject_rules=[{"type": "GOD"}]), "subject_rules.0.type"),
        (named(subject_rules=[{"type": "USER"}]), "subject_rules.0.subject_id"),
        (named(object_rules=bad_regex), "object_rules.0.pattern"),
        (named(object_rules=[{**bad_regex[0], "pattern": "(" * 5000}]), "object_rules.0.pattern"),
        (named(object_rules=[{**bad_regex[0], "pattern": "a{4294967296}"}]), "object_rules.0"),
        (named(files=[{"path": "f", "content": "%%"}]), "files.0.content: is not base64"),
        # unknown fields are ignored as Semaphore does; a wrong type is still refused
        (named(colour="red", url=["x"]), "url"),
    ]
    for body, field in cases:
        response = await rig.api.post(
            f"{API}/deployment_targets", params={"project_id": rig.project_id}, json=body
        )
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["message"], (body, response.text)
    listed = await rig.api.get(f"{API}/deployment_targets", params={"project_id": rig.project_id})
    assert listed.json() == []
