"""Stores a job's published reports and reads them back as Semaphore's test-results JSON
(camelCase `testResults` with suites, tests and summaries; durations in nanoseconds)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.artifacts import access, tokens
from blockpost.db.models import Job, JUnitCase, JUnitReport, JUnitSuite
from blockpost.errors import InvalidInput, NotAuthenticated
from blockpost.services import jobs, workflows
from blockpost.services.principal import Principal
from blockpost.test_results import junit

# A report is one file; a job that publishes more is looping, not testing.
MAX_REPORTS_PER_JOB = 100
MAX_FILENAME = 255
STATES = ("passed", "skipped", "error", "failed", "disabled")


async def job_for_token(session: AsyncSession, secret_key: str, token: str) -> Job:
    """The running job whose SEMAPHORE_ARTIFACT_TOKEN this is: the credential a job
    already holds for its artifacts, good while it runs (and a grace period after)."""
    job_id = tokens.job_of(secret_key, token)
    if job_id is None:
        raise NotAuthenticated("send the job's SEMAPHORE_ARTIFACT_TOKEN in authorization")
    await access.grant_for_job(session, job_id)
    job = await session.get(Job, job_id)
    if job is None:
        raise NotAuthenticated("artifact token of no job on this server")
    return job


def check_filename(filename: str) -> str:
    name = filename.strip()
    if not name:
        raise InvalidInput("file", "is required")
    if len(name) > MAX_FILENAME:
        raise InvalidInput("file", f"is longer than {MAX_FILENAME} characters")
    return name


async def publish(
    session: AsyncSession,
    job: Job,
    data: bytes,
    *,
    filename: str,
    name: str = "",
    parser: str = junit.AUTO,
    suite_prefix: str = "",
) -> dict[str, Any]:
    """Parses and stores one report of the job; a file that is no JUnit report is a 400
    naming it, and stores nothing."""
    filename = check_filename(filename)
    report = junit.parse(
        data,
        filename=filename,
        name=name.strip(),
        parser=parser.strip(),
        suite_prefix=suite_prefix.strip(),
    )
    count = await session.scalar(
        select(func.count()).select_from(JUnitReport).where(JUnitReport.job_id == job.id)
    )
    if (count or 0) >= MAX_REPORTS_PER_JOB:
        raise InvalidInput("file", f"a job publishes at most {MAX_REPORTS_PER_JOB} reports")
    row = JUnitReport(
        job_id=job.id,
        pipeline_id=job.pipeline_id,
        filename=filename,
        name=report.name,
        framework=report.framework,
    )
    session.add(row)
    await session.flush()
    suites = [
        {"report_id": row.id, "position": i, "name": s.name, "duration_ns": s.duration_ns}
        for i, s in enumerate(report.suites)
    ]
    cases = [
        {"report_id": row.id, "suite_position": i, "position": j, **vars(case)}
        for i, suite in enumerate(report.suites)
        for j, case in enumerate(suite.cases)
    ]
    if suites:
        await session.execute(insert(JUnitSuite), suites)
    if cases:
        await session.execute(insert(JUnitCase), cases)
    tests = [{"state": case["state"]} for case in cases]
    return {
        "id": row.id,
        "name": row.name,
        "framework": row.framework,
        "file": row.filename,
        "summary": _summary(tests, sum(s.duration_ns for s in report.suites)),
    }


def _summary(tests: list[dict[str, Any]], duration: int) -> dict[str, int]:
    counts = dict.fromkeys(("total", *STATES), 0)
    for test in tests:
        counts["total"] += 1
        counts[test["state"]] += 1
    return {
        "total": counts["total"],
        "passed": counts["passed"],
        "skipped": counts["skipped"],
        "error": counts["error"],
        "failed": counts["failed"],
        "disabled": counts["disabled"],
        "duration": duration,
    }


def _test(case: JUnitCase) -> dict[str, Any]:
    problem = {"message": case.message, "type": case.type, "body": case.body}
    return {
        "name": case.name,
        "classname": case.classname,
        "file": case.file,
        "state": case.state,
        "duration": case.duration_ns,
        "failure": problem if case.state == "failed" else None,
        "error": problem if case.state == "error" else None,
    }


def _suite(name: str, duration: int, tests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "summary": _summary(tests, duration), "tests": tests}


def _results(name: str, framework: str, suites: list[dict[str, Any]]) -> dict[str, Any]:
    tests = [t for s in suites for t in s["tests"]]
    duration = sum(s["summary"]["duration"] for s in suites)
    return {
        "name": name,
        "framework": framework,
        "summary": _summary(tests, duration),
        "suites": suites,
    }


async def _load(
    session: AsyncSession, reports: list[JUnitReport]
) -> dict[str, list[tuple[JUnitSuite, list[dict[str, Any]]]]]:
    """Each report's suites, in order, with their tests."""
    ids = [r.id for r in reports]
    if not ids:
        return {}
    suites = (
        await session.scalars(
            select(JUnitSuite)
            .where(JUnitSuite.report_id.in_(ids))
            .order_by(JUnitSuite.report_id, JUnitSuite.position)
        )
    ).all()
    cases = (
        await session.scalars(
            select(JUnitCase)
            .where(JUnitCase.report_id.in_(ids))
            .order_by(JUnitCase.report_id, JUnitCase.suite_position, JUnitCase.position)
        )
    ).all()
    tests: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        tests[(case.report_id, case.suite_position)].append(_test(case))
    out: dict[str, list[tuple[JUnitSuite, list[dict[str, Any]]]]] = defaultdict(list)
    for suite in suites:
        out[suite.report_id].append((suite, tests[(suite.report_id, suite.position)]))
    return out


async def _reports(session: AsyncSession, *where: Any) -> list[JUnitReport]:
    query = select(JUnitReport).where(*where).order_by(JUnitReport.created_at, JUnitReport.id)
    return list((await session.scalars(query)).all())


async def job_results(session: AsyncSession, caller: Principal, job_id: str) -> dict[str, Any]:
    """The job's reports, one `testResults` entry per published file."""
    job = await jobs.visible_job(session, caller, job_id)
    reports = await _reports(session, JUnitReport.job_id == job.id)
    loaded = await _load(session, reports)
    results = []
    for report in reports:
        suites = [_suite(s.name, s.duration_ns, t) for s, t in loaded[report.id]]
        results.append({"file": report.filename, **_results(report.name, report.framework, suites)})
    return {"job_id": job.id, "summary": _total(results), "testResults": results}


def _total(results: list[dict[str, Any]]) -> dict[str, int]:
    total = dict.fromkeys(("total", *STATES, "duration"), 0)
    for result in results:
        for key, value in result["summary"].items():
            total[key] += value
    return _summary([], 0) | total


async def pipeline_results(
    session: AsyncSession, caller: Principal, pipeline_id: str
) -> dict[str, Any]:
    """Every job's reports combined as Semaphore's gen-pipeline-report combines them:
    reports of one name and framework merge, and so do their suites of one name; each
    test says which job ran it."""
    pipeline = await workflows.visible_pipeline(session, caller, pipeline_id)
    reports = await _reports(session, JUnitReport.pipeline_id == pipeline.id)
    loaded = await _load(session, reports)
    named = select(Job.id, Job.name).where(Job.id.in_({r.job_id for r in reports}))
    job_names = {row.id: row.name for row in await session.execute(named)}
    merged: dict[tuple[str, str], dict[str, tuple[int, list[dict[str, Any]]]]] = {}
    per_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for report in reports:
        suites = merged.setdefault((report.name, report.framework), {})
        job = {"jobId": report.job_id, "jobName": job_names.get(report.job_id, "")}
        for suite, tests in loaded[report.id]:
            duration, kept = suites.get(suite.name, (0, []))
            kept.extend({**test, **job} for test in tests)
            suites[suite.name] = (duration + suite.duration_ns, kept)
            per_job[report.job_id].append(_suite(suite.name, suite.duration_ns, tests))
    results = [
        _results(name, framework, [_suite(n, d, t) for n, (d, t) in suites.items()])
        for (name, framework), suites in merged.items()
    ]
    return {
        "pipeline_id": pipeline.id,
        "summary": _total(results),
        "jobs": [
            {"job_id": job_id, "job_name": job_names.get(job_id, ""), "summary": _total(s)}
            for job_id, s in per_job.items()
        ],
        "testResults": results,
    }
