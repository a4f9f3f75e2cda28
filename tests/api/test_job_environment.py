"""The environment a job receives, name by name and in order, as its agent fetches it:
Semaphore's job variables, SEMAPHORE_GIT_* per kind of reference, secrets, then env_vars."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.artifacts.tokens import token_for
from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, Taken, block, make_rig, pipeline_yaml

ENV_PIPELINE = pipeline_yaml(
    "  - name: Env\n    task:\n"
    "      env_vars:\n        - name: LEVEL\n          value: block\n"
    "      jobs:\n        - name: Show\n          commands: [env]\n"
    "          env_vars:\n            - name: LEVEL\n              value: job\n",
    head="global_job_config:\n  env_vars:\n    - name: LEVEL\n      value: global\n",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, ENV_PIPELINE)
    yield made
    await made.close()


def pairs(taken: Taken) -> list[tuple[str, str]]:
    return [(e["name"], base64.b64decode(e["value"]).decode()) for e in taken.payload["env_vars"]]


def git_part(env: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The SEMAPHORE_GIT_* run that follows SEMAPHORE_ARTIFACT_TOKEN."""
    names = [name for name, _ in env]
    start = names.index("SEMAPHORE_ARTIFACT_TOKEN") + 1
    end = start
    while end < len(env) and names[end].startswith("SEMAPHORE_GIT_"):
        end += 1
    return env[start:end]


async def run_and_take(rig: EngineRig, reference: str) -> tuple[dict[str, str], Taken]:
    ids = await rig.run(reference)
    await rig.settle()
    return ids, await rig.take()


async def test_a_branch_job_gets_semaphores_variables_then_git_then_the_yaml_env_in_order(
    rig: EngineRig,
) -> None:
    ids, taken = await run_and_take(rig, "refs/heads/master")
    sha = rig.repo.git("rev-parse", "HEAD")
    pipeline = (await rig.pipeline(ids["pipeline_id"], detailed=False))["pipeline"]
    created = datetime.strptime(pipeline["created_at"], "%Y-%m-%d %H:%M:%S.%fZ")
    assert pairs(taken) == [
        ("TERM", "xterm"),
        ("CI", "true"),
        ("SEMAPHORE", "true"),
        ("SEMAPHORE_PROJECT_NAME", "rig"),
        ("SEMAPHORE_PROJECT_ID", rig.project_id),
        ("SEMAPHORE_JOB_NAME", "Show"),
        ("SEMAPHORE_JOB_ID", taken.id),
        ("SEMAPHORE_JOB_CREATION_TIME", str(int(created.replace(tzinfo=UTC).timestamp()))),
        ("SEMAPHORE_JOB_TYPE", "pipeline_job"),
        ("SEMAPHORE_AGENT_MACHINE_TYPE", "e1-standard-2"),
        ("SEMAPHORE_AGENT_MACHINE_OS_IMAGE", "ubuntu2004"),
        ("SEMAPHORE_AGENT_MACHINE_ENVIRONMENT_TYPE", "VM"),
        ("SEMAPHORE_ORGANIZATION_URL", "http://test"),
        ("SEMAPHORE_ARTIFACT_TOKEN", token_for("test-secret-key", taken.id)),
        ("SEMAPHORE_GIT_PROVIDER", "git"),
        ("SEMAPHORE_GIT_URL", rig.repo.url),
        ("SEMAPHORE_GIT_REPO_NAME", "repo"),
        ("SEMAPHORE_GIT_DIR", "repo"),
        ("SEMAPHORE_GIT_SHA", sha),
        ("SEMAPHORE_GIT_REPO_SLUG", f"{Path(rig.repo.url).parent.name}/repo"),
        ("SEMAPHORE_GIT_REF", "refs/heads/master"),
        ("SEMAPHORE_GIT_COMMIT_RANGE", ""),  # the first commit has no parent
        ("SEMAPHORE_GIT_REF_TYPE", "branch"),
        ("SEMAPHORE_GIT_BRANCH", "master"),
        ("SEMAPHORE_GIT_WORKING_BRANCH", "master"),
        ("SEMAPHORE_WORKFLOW_ID", ids["workflow_id"]),
        ("SEMAPHORE_WORKFLOW_NUMBER", "1"),
        ("SEMAPHORE_WORKFLOW_RERUN", "false"),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_HOOK", "false"),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_SCHEDULE", "false"),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_API", "true"),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_MANUAL_RUN", "false"),
        ("SEMAPHORE_PIPELINE_ARTEFACT_ID", ids["pipeline_id"]),
        ("SEMAPHORE_PIPELINE_ID", ids["pipeline_id"]),
        ("SEMAPHORE_PIPELINE_NAME", "Rig pipeline"),
        ("SEMAPHORE_BLOCK_NAME", "Env"),
        ("SEMAPHORE_PIPELINE_RERUN", "false"),
        ("SEMAPHORE_PIPELINE_PROMOTION", "false"),
        ("SEMAPHORE_PIPELINE_PROMOTED_BY", ""),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY", "admin"),
        ("SEMAPHORE_GIT_COMMIT_AUTHOR", "Ada Tester"),
        ("SEMAPHORE_GIT_COMMITTER", "Ada Tester"),
        ("SEMAPHORE_PIPELINE_0_ARTEFACT_ID", ids["pipeline_id"]),
        ("LEVEL", "global"),
        ("LEVEL", "block"),
        ("LEVEL", "job"),
    ]


async def test_a_branch_jobs_commit_range_runs_from_the_parent_commit(rig: EngineRig) -> None:
    first = rig.repo.git("rev-parse", "HEAD")
    second = rig.repo.commit({"README": "more"}, "second")
    _, taken = await run_and_take(rig, "refs/heads/master")
    assert dict(pairs(taken))["SEMAPHORE_GIT_COMMIT_RANGE"] == f"{first}...{second}"


async def test_a_tag_job_names_the_tag_and_has_no_working_branch(rig: EngineRig) -> None:
    first = rig.repo.git("rev-parse", "HEAD")
    sha = rig.repo.commit({"README": "release"}, "release")
    rig.repo.tag("v1.0")
    _, taken = await run_and_take(rig, "refs/tags/v1.0")
    slug = f"{Path(rig.repo.url).parent.name}/repo"
    assert git_part(pairs(taken)) == [
        ("SEMAPHORE_GIT_PROVIDER", "git"),
        ("SEMAPHORE_GIT_URL", rig.repo.url),
        ("SEMAPHORE_GIT_REPO_NAME", "repo"),
        ("SEMAPHORE_GIT_DIR", "repo"),
        ("SEMAPHORE_GIT_SHA", sha),
        ("SEMAPHORE_GIT_REPO_SLUG", slug),
        ("SEMAPHORE_GIT_REF", "refs/tags/v1.0"),
        ("SEMAPHORE_GIT_COMMIT_RANGE", f"{first}...{sha}"),
        ("SEMAPHORE_GIT_REF_TYPE", "tag"),
        ("SEMAPHORE_GIT_BRANCH", "refs/tags/v1.0"),  # Semaphore's: the tag's ref
        ("SEMAPHORE_GIT_TAG_NAME", "v1.0"),
    ]


async def test_a_pull_request_job_runs_the_merge_and_names_base_and_head(rig: EngineRig) -> None:
    base = rig.repo.git("rev-parse", "HEAD")
    rig.repo.checkout("feature", new=True)
    head = rig.repo.commit({"lib.py": "print(1)"}, "feature work")
    rig.repo.checkout("master")
    merge = rig.repo.git("commit-tree", f"{head}^{{tree}}", "-p", base, "-p", head, "-m", "Merge")
    rig.repo.git("update-ref", "refs/pull/7/head", head)
    rig.repo.git("update-ref", "refs/pull/7/merge", merge)
    _, taken = await run_and_take(rig, "refs/pull/7")
    env = pairs(taken)
    slug = f"{Path(rig.repo.url).parent.name}/repo"
    assert git_part(env) == [
        ("SEMAPHORE_GIT_PROVIDER", "git"),
        ("SEMAPHORE_GIT_URL", rig.repo.url),
        ("SEMAPHORE_GIT_REPO_NAME", "repo"),
        ("SEMAPHORE_GIT_DIR", "repo"),
        ("SEMAPHORE_GIT_SHA", merge),
        ("SEMAPHORE_GIT_REPO_SLUG", slug),
        ("SEMAPHORE_GIT_REF", "refs/pull/7/merge"),  # what a clone fetches for the sha
        ("SEMAPHORE_GIT_COMMIT_RANGE", f"{base}...{head}"),
        ("SEMAPHORE_GIT_REF_TYPE", "pull-request"),
        ("SEMAPHORE_GIT_BRANCH", "master"),
        ("SEMAPHORE_GIT_PR_SLUG", slug),
        ("SEMAPHORE_GIT_PR_SHA", head),
        ("SEMAPHORE_GIT_PR_NUMBER", "7"),
        ("SEMAPHORE_GIT_PR_NAME", ""),
        ("SEMAPHORE_GIT_PR_BRANCH", "feature"),
        ("SEMAPHORE_GIT_WORKING_BRANCH", "feature"),
    ]
    assert ("SEMAPHORE_GIT_COMMIT_AUTHOR", "Ada Tester") in env


async def test_a_pull_request_with_only_a_head_ref_from_no_branch_here_reads_as_a_forks(
    rig: EngineRig,
) -> None:
    base = rig.repo.git("rev-parse", "HEAD")
    rig.repo.checkout("elsewhere", new=True)
    head = rig.repo.commit({"lib.py": "print(2)"}, "fork work")
    rig.repo.checkout("master")
    rig.repo.git("branch", "-D", "elsewhere")
    rig.repo.git("update-ref", "refs/pull/8/head", head)
    _, taken = await run_and_take(rig, "refs/pull/8")
    git = dict(git_part(pairs(taken)))
    assert git["SEMAPHORE_GIT_SHA"] == head
    assert git["SEMAPHORE_GIT_REF"] == "refs/pull/8/head"
    assert git["SEMAPHORE_GIT_COMMIT_RANGE"] == f"{base}...{head}"
    # the base is unknown: the workflow's branch stands in, so `checkout` still has one
    assert git["SEMAPHORE_GIT_BRANCH"] == "pull-request-8"
    assert git["SEMAPHORE_GIT_PR_SHA"] == head
    assert (git["SEMAPHORE_GIT_PR_SLUG"], git["SEMAPHORE_GIT_PR_BRANCH"]) == ("", "")
    assert git["SEMAPHORE_GIT_WORKING_BRANCH"] == ""


async def make_secret(rig: EngineRig, name: str, **env: str) -> None:
    body = {
        "metadata": {"name": name},
        "data": {"env_vars": [{"name": key, "value": value} for key, value in env.items()]},
    }
    response = await rig.api.post("/api/v1beta/secrets", json=body)
    assert response.status_code == 200, response.text


async def test_a_yaml_env_var_overrides_a_secret_of_the_same_name(rig: EngineRig) -> None:
    await make_secret(rig, "creds", API_KEY="from-secret", SEMAPHORE_GIT_BRANCH="from-secret")
    rig.repo.commit(
        {
            ".semaphore/semaphore.yml": pipeline_yaml(
                "  - name: Uses\n    task:\n      secrets:\n        - name: creds\n"
                "      jobs:\n        - name: j\n          commands: [echo]\n"
                "          env_vars:\n            - name: API_KEY\n              value: from-yaml\n"
            )
        }
    )
    _, taken = await run_and_take(rig, "refs/heads/master")
    env = pairs(taken)
    assert [value for name, value in env if name == "API_KEY"] == ["from-secret", "from-yaml"]
    # a secret comes after the SEMAPHORE_GIT_* it could replace, before the pipeline's
    names = [name for name, _ in env]
    assert names.index("SEMAPHORE_GIT_WORKING_BRANCH") < names.index("API_KEY")
    assert names.index("API_KEY") < names.index("SEMAPHORE_WORKFLOW_ID")
    assert dict(env)["SEMAPHORE_GIT_BRANCH"] == "from-secret"


async def test_a_pipeline_secret_overrides_its_deployment_targets(rig: EngineRig) -> None:
    await make_secret(rig, "shared", DEPLOY_KEY="from-secret")
    rig.repo.commit(
        {
            ".semaphore/semaphore.yml": pipeline_yaml(block("Build", "compile"))
            + "promotions:\n  - name: Production\n    pipeline_file: deploy.yml\n"
            "    deployment_target: prod\n",
            ".semaphore/deploy.yml": pipeline_yaml(
                "  - name: Deploy\n    task:\n      secrets:\n        - name: shared\n"
                "      jobs:\n        - name: deploy\n          commands: [echo]\n"
            ),
        }
    )
    target = await rig.api.post(
        f"{API}/deployment_targets",
        params={"project_id": rig.project_id},
        json={
            "name": "prod",
            "unique_token": "t1",
            "env_vars": [{"name": "DEPLOY_KEY", "value": "from-target"}],
        },
    )
    assert target.status_code == 200, target.text
    ppl = (await rig.run())["pipeline_id"]
    assert await rig.run_jobs() == ["compile"]
    promoted = await rig.api.post(
        f"{API}/promotions", json={"pipeline_id": ppl, "name": "Production"}
    )
    assert promoted.status_code == 200, promoted.text
    await rig.settle()
    taken = await rig.take()
    env = pairs(taken)
    assert [value for name, value in env if name == "DEPLOY_KEY"] == ["from-target", "from-secret"]


async def test_a_standalone_job_gets_semaphores_job_and_project_variables_then_its_own(
    rig: EngineRig,
) -> None:
    created = await rig.api.post(
        f"{API}/jobs",
        json={
            "metadata": {"name": "one-off"},
            "spec": {
                "project_id": rig.project_id,
                "agent": {"machine": {"type": "e1-standard-2", "os_image": "ubuntu2004"}},
                "env_vars": [{"name": "CI", "value": "mine"}, {"name": "MODE", "value": "x"}],
                "commands": ["env"],
            },
        },
    )
    assert created.status_code == 200, created.text
    described = created.json()
    taken = await rig.take()
    assert taken.id == described["metadata"]["id"]
    assert pairs(taken) == [
        ("TERM", "xterm"),
        ("CI", "true"),
        ("SEMAPHORE", "true"),
        ("SEMAPHORE_PROJECT_NAME", "rig"),
        ("SEMAPHORE_PROJECT_ID", rig.project_id),
        ("SEMAPHORE_JOB_NAME", "one-off"),
        ("SEMAPHORE_JOB_ID", taken.id),
        ("SEMAPHORE_JOB_CREATION_TIME", described["metadata"]["create_time"]),
        ("SEMAPHORE_JOB_TYPE", "project_debug_job"),
        ("SEMAPHORE_AGENT_MACHINE_TYPE", "e1-standard-2"),
        ("SEMAPHORE_AGENT_MACHINE_OS_IMAGE", "ubuntu2004"),
        ("SEMAPHORE_AGENT_MACHINE_ENVIRONMENT_TYPE", "VM"),
        ("SEMAPHORE_ORGANIZATION_URL", "http://test"),
        ("SEMAPHORE_ARTIFACT_TOKEN", token_for("test-secret-key", taken.id)),
        ("SEMAPHORE_GIT_PROVIDER", "git"),
        ("SEMAPHORE_GIT_URL", rig.repo.url),
        ("SEMAPHORE_GIT_REPO_NAME", "repo"),
        ("SEMAPHORE_GIT_DIR", "repo"),
        ("SEMAPHORE_GIT_BRANCH", "master"),
        ("SEMAPHORE_GIT_WORKING_BRANCH", "master"),
        ("SEMAPHORE_GIT_SHA", "HEAD"),
        ("CI", "mine"),
        ("MODE", "x"),
    ]
    # describe shows the job's own variables, then the SEMAPHORE_GIT_* it was given
    shown = [(e["name"], e["value"]) for e in described["spec"]["env_vars"]]
    assert shown[:2] == [("CI", "mine"), ("MODE", "x")]
    assert [name for name, _ in shown[2:]] == [
        "SEMAPHORE_GIT_PROVIDER",
        "SEMAPHORE_GIT_URL",
        "SEMAPHORE_GIT_REPO_NAME",
        "SEMAPHORE_GIT_DIR",
        "SEMAPHORE_GIT_BRANCH",
        "SEMAPHORE_GIT_WORKING_BRANCH",
        "SEMAPHORE_GIT_SHA",
    ]
