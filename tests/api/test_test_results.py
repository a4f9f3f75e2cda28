"""Jobs publish JUnit reports with their artifact token as `test-results publish` sends
them; people read them per job and per pipeline, as they may see the project."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from tests.api.engine_rig import API, EngineRig, Taken, block, make_rig, pipeline_yaml

PUBLISH = "/api/v1/test_results"

REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" time="0.5">
<testcase classname="tests.test_cart" name="test_adds" time="0.25"/>
<testcase classname="tests.test_cart" name="test_totals" time="0.125">
<failure message="assert 4 == 3">assert total(cart) == 3</failure></testcase>
<testcase classname="tests.test_cart" name="test_later" time="0"><skipped/></testcase>
</testsuite></testsuites>
"""
OTHER = b"""<testsuites><testsuite name="pytest" time="2">
<testcase classname="tests.test_pay" name="test_pays" time="2"/>
</testsuite></testsuites>
"""


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Test", "unit", "integration")))
    yield made
    await made.close()


def artifact_token(taken: Taken) -> str:
    env = {e["name"]: e["value"] for e in taken.payload["env_vars"]}
    return base64.b64decode(env["SEMAPHORE_ARTIFACT_TOKEN"]).decode()


async def publish(
    client: httpx.AsyncClient, token: str, data: bytes, file: str = "junit.xml", **flags: str
) -> httpx.Response:
    """The request blockpost's `test-results publish` makes for one file."""
    query = {"name": "", "parser": "auto", "suite_prefix": "", **flags}
    return await client.post(
        f"{PUBLISH}?{urlencode(query)}&{urlencode({'file': file})}",
        content=data,
        headers={"authorization": token, "Content-Type": "application/xml"},
    )


async def running_jobs(rig: EngineRig) -> tuple[str, list[Taken]]:
    started = await rig.run()
    await rig.settle()
    return started["pipeline_id"], [await rig.take(), await rig.take()]


async def test_a_published_report_is_summarised_for_the_job(
    rig: EngineRig, anon: httpx.AsyncClient
) -> None:
    _, (job, _) = await running_jobs(rig)
    answer = await publish(anon, artifact_token(job), REPORT, "reports/junit.xml")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["name"], body["framework"], body["file"]) == (
        "Generic Suite",
        "generic",
        "reports/junit.xml",
    )
    assert body["summary"] == {
        "total": 3,
        "passed": 1,
        "skipped": 1,
        "error": 0,
        "failed": 1,
        "disabled": 0,
        "duration": 500_000_000,
    }
    shown = await rig.api.get(f"{API}/jobs/{job.id}/test_results")
    assert shown.status_code == 200, shown.text
    results = shown.json()
    assert results["job_id"] == job.id
    assert results["summary"]["total"] == 3
    [report] = results["testResults"]
    [suite] = report["suites"]
    assert suite["name"] == "pytest"
    failed = suite["tests"][1]
    assert failed == {
        "name": "test_totals",
        "classname": "tests.test_cart",
        "file": "",
        "state": "failed",
        "duration": 125_000_000,
        "failure": {"message": "assert 4 == 3", "type": "", "body": "assert total(cart) == 3"},
        "error": None,
    }


async def test_a_pipeline_combines_its_jobs_reports_by_name_and_suite(
    rig: EngineRig, anon: httpx.AsyncClient
) -> None:
    ppl_id, (first, second) = await running_jobs(rig)
    assert (await publish(anon, artifact_token(first), REPORT, name="Unit")).status_code == 201
    assert (await publish(anon, artifact_token(second), OTHER, name="Unit")).status_code == 201
    answer = await publish(anon, artifact_token(second), REPORT, "lint.xml", name="Lint")
    assert answer.status_code == 201
    shown = await rig.api.get(f"{API}/pipelines/{ppl_id}/test_results")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["pipeline_id"] == ppl_id
    assert body["summary"]["total"] == 7
    assert body["summary"]["failed"] == 2
    assert body["summary"]["duration"] == 3_000_000_000
    by_name = {r["name"]: r for r in body["testResults"]}
    assert set(by_name) == {"Unit", "Lint"}
    [suite] = by_name["Unit"]["suites"]
    assert [t["name"] for t in suite["tests"]] == [
        "test_adds",
        "test_totals",
        "test_later",
        "test_pays",
    ]
    assert {t["jobName"] for t in suite["tests"]} == {first.name, second.name}
    assert suite["tests"][3]["jobId"] == second.id
    assert by_name["Unit"]["summary"]["total"] == 4
    jobs = {j["job_id"]: j["summary"]["total"] for j in body["jobs"]}
    assert jobs == {first.id: 3, second.id: 4}


async def test_a_pipeline_without_reports_has_an_empty_summary(rig: EngineRig) -> None:
    ppl_id, _ = await running_jobs(rig)
    body = (await rig.api.get(f"{API}/pipelines/{ppl_id}/test_results")).json()
    assert body["testResults"] == []
    assert body["jobs"] == []
    assert body["summary"]["total"] == 0


async def test_results_are_hidden_like_the_project(
    rig: EngineRig, alice: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    ppl_id, (job, _) = await running_jobs(rig)
    assert (await publish(anon, artifact_token(job), REPORT)).status_code == 201
    for path in (f"{API}/pipelines/{ppl_id}/test_results", f"{API}/jobs/{job.id}/test_results"):
        hidden = await alice.get(path)
        assert hidden.status_code == 404, hidden.text
        assert "not found" in hidden.json()["message"]
        assert (await anon.get(path)).status_code == 401


async def test_malformed_xml_is_a_400_naming_the_file_and_stores_nothing(
    rig: EngineRig, anon: httpx.AsyncClient
) -> None:
    _, (job, _) = await running_jobs(rig)
    answer = await publish(anon, artifact_token(job), b"<testsuites><testsuite>", "out/bad.xml")
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("out/bad.xml: is not well-formed XML")
    xxe = b'<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite name="&x;"/>'
    refused = await publish(anon, artifact_token(job), xxe, "xxe.xml")
    assert refused.status_code == 400
    assert refused.json()["message"] == "xxe.xml: DTDs and entity declarations are not allowed"
    shown = (await rig.api.get(f"{API}/jobs/{job.id}/test_results")).json()
    assert shown["testResults"] == []


async def test_a_report_over_the_body_limit_is_a_413(
    rig: EngineRig, anon: httpx.AsyncClient
) -> None:
    _, (job, _) = await running_jobs(rig)
    case = b'<testcase name="t" time="0.1"/>'
    big = b"<testsuite>" + case * (65 * 1024 // len(case) + 1) + b"</testsuite>"
    answer = await publish(anon, artifact_token(job), big)
    assert answer.status_code == 413
    assert "exceeds" in answer.json()["message"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"file": ""}, "file: is required"),
        ({"file": "x" * 300}, "file: is longer than 255 characters"),
    ],
)
async def test_a_missing_or_long_file_name_is_a_400(
    rig: EngineRig, anon: httpx.AsyncClient, query: dict[str, Any], reason: str
) -> None:
    _, (job, _) = await running_jobs(rig)
    answer = await publish(anon, artifact_token(job), REPORT, query["file"])
    assert answer.status_code == 400
    assert answer.json()["message"] == reason


async def test_only_a_running_jobs_artifact_token_may_publish(
    rig: EngineRig, anon: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    _, (job, _) = await running_jobs(rig)
    token = artifact_token(job)
    job_id, _, digest = token.partition(".")
    forged = f"{job_id}.{'0' * len(digest)}"
    user_token = admin.headers["Authorization"].removeprefix("Token ")
    for credential in (forged, "", user_token, f"Token {token}"):
        answer = await publish(anon, credential, REPORT)
        assert answer.status_code == 401, (credential, answer.text)
    as_user = await admin.post(f"{PUBLISH}?file=junit.xml", content=REPORT)
    assert as_user.status_code == 401


async def test_a_job_publishes_at_most_a_hundred_reports(
    rig: EngineRig, anon: httpx.AsyncClient
) -> None:
    _, (job, _) = await running_jobs(rig)
    token = artifact_token(job)
    small = b'<testsuite name="s"><testcase name="c"/></testsuite>'
    for index in range(100):
        assert (await publish(anon, token, small, f"r{index}.xml")).status_code == 201
    refused = await publish(anon, token, small, "r100.xml")
    assert refused.status_code == 400
    assert refused.json()["message"] == "file: a job publishes at most 100 reports"
