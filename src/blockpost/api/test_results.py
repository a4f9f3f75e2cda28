"""Test results: a job publishes its JUnit reports; people read them per job and pipeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from blockpost.api.deps import CallerDep, SessionDep, SettingsDep
from blockpost.api.middleware import TEST_RESULTS_PUBLISH
from blockpost.test_results import service

router = APIRouter(tags=["test results"])


@router.post(TEST_RESULTS_PUBLISH, status_code=201, include_in_schema=False)
async def publish(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    file: str = Query(default="", max_length=4096),
    name: str = Query(default="", max_length=255),
    parser: str = Query(default="auto", max_length=40),
    suite_prefix: str = Query(default="", max_length=255),
) -> dict[str, Any]:
    """A job's JUnit XML file, raw in the body, with its SEMAPHORE_ARTIFACT_TOKEN in the
    authorization header as the artifact CLI sends it."""
    token = request.headers.get("authorization", "")
    assert settings.secret_key, "create_app gives every server a secret key"
    job = await service.job_for_token(session, settings.secret_key, token)
    body = await request.body()
    return await service.publish(
        session, job, body, filename=file, name=name, parser=parser, suite_prefix=suite_prefix
    )


@router.get("/api/v1alpha/pipelines/{ppl_id}/test_results", response_class=JSONResponse)
async def pipeline_test_results(
    ppl_id: str, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """Test results of every job of the pipeline, combined by report and suite name."""
    return await service.pipeline_results(session, caller, ppl_id)


@router.get("/api/v1alpha/jobs/{job_id}/test_results", response_class=JSONResponse)
async def job_test_results(job_id: str, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    """Test results the job published, one entry per file."""
    return await service.job_results(session, caller, job_id)
