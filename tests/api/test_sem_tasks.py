"""`/api/v1alpha/tasks` as `sem get tasks`, `sem get task ID` and `sem run task` call it, and
as Semaphore's v1alpha router takes a task YAML (create, edit with metadata.id, delete)."""

from __future__ import annotations

from base64 import b64decode
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml
from tests.conftest import MakeClient

TASKS = f"{API}/tasks"
# the fields sem's TaskV1Alpha and TriggerV1Alpha read (api/models/tasks_v1_alpha.go)
CLI_TASK_FIELDS = {
    "id", "name", "description", "project_id", "branch", "at", "pipeline_file",
    "requester_id", "updated_at", "paused", "suspended", "recurring", "parameters",
}  # fmt: skip
CLI_TRIGGER_FIELDS = {
    "triggered_at", "scheduling_status", "scheduled_workflow_id", "branch", "pipeline_file",
    "error_description",
}  # fmt: skip


def task_yaml(name: str = "deploy", *, task_id: str = "", extra: str = "") -> str:
    """A task as Semaphore's scheduler YAML v1.1 writes one: run on demand, with parameters."""
    identity = f"  id: {task_id}\n" if task_id else ""
    return f"""\
apiVersion: v1.1
kind: Schedule
metadata:
  name: {name}
{identity}  description: Deploy the app
spec:
  project: rig
  recurring: false
  branch: master
  pipeline_file: .semaphore/semaphore.yml
  parameters:
    - name: DEPLOY_ENV
      description: Target environment
      required: true
      options:
        - staging
        - production
    - name: REGION
      required: false
      default_value: eu-west-1
{extra}"""


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    yaml = pipeline_yaml(block("Deploy", "ship"))
    made = await make_rig(app, admin, tmp_path, yaml)
    yield made
    await made.close()


async def create(rig: EngineRig, text: str) -> str:
    response = await rig.api.post(TASKS, json={"yml_definition": text})
    assert response.status_code == 200, response.text
    task_id = response.json()
    assert isinstance(task_id, str)
    return task_id


async def run_task(rig: EngineRig, task_id: str, body: dict[str, object]) -> httpx.Response:
    return await rig.api.post(f"{TASKS}/{task_id}/run_now", json=body)


async def test_create_from_a_task_yaml_answers_the_id_and_keeps_its_definition(
    rig: EngineRig,
) -> None:
    task_id = await create(rig, task_yaml())
    task = (await rig.api.get(f"{TASKS}/{task_id}")).json()["schedule"]
    assert (task["name"], task["description"], task["recurring"]) == (
        "deploy",
        "Deploy the app",
        False,
    )
    assert (task["branch"], task["at"], task["paused"]) == ("master", "", False)
    assert task["parameters"] == [
        {
            "name": "DEPLOY_ENV",
            "required": True,
            "description": "Target environment",
            "default_value": "",
            "options": ["staging", "production"],
        },
        {
            "name": "REGION",
            "required": False,
            "description": "",
            "default_value": "eu-west-1",
            "options": [],
        },
    ]


async def test_sem_get_tasks_walks_the_pages_by_the_link_header(rig: EngineRig) -> None:
    for name in ("alpha", "beta", "gamma"):
        await create(rig, task_yaml(name))
    # sem asks for 200 a page and follows rel="next" until there is none
    first = await rig.api.get(
        TASKS, params={"project_id": rig.project_id, "page_size": "200", "page": "1"}
    )
    assert first.status_code == 200, first.text
    assert [t["name"] for t in first.json()] == ["alpha", "beta", "gamma"]
    assert 'rel="next"' not in first.headers["link"]
    assert set(first.json()[0]) >= CLI_TASK_FIELDS
    walked, page = [], 1
    while True:
        response = await rig.api.get(
            TASKS, params={"project_id": rig.project_id, "page_size": "2", "page": str(page)}
        )
        walked += [t["name"] for t in response.json()]
        if 'rel="next"' not in response.headers["link"]:
            break
        page += 1
    assert walked == ["alpha", "beta", "gamma"]


async def test_sem_get_task_describes_it_with_its_recent_triggers(rig: EngineRig) -> None:
    task_id = await create(rig, task_yaml())
    await run_task(rig, task_id, {"parameters": {"DEPLOY_ENV": "staging"}})
    described = await rig.api.get(f"{TASKS}/{task_id}")
    assert described.status_code == 200, described.text
    body = described.json()
    assert set(body["schedule"]) >= CLI_TASK_FIELDS
    assert body["schedule"]["id"] == task_id
    (trigger,) = body["triggers"]
    assert set(trigger) >= CLI_TRIGGER_FIELDS
    assert (trigger["scheduling_status"], trigger["branch"]) == ("passed", "master")
    assert trigger["parameter_values"] == [
        {"name": "DEPLOY_ENV", "value": "staging"},
        {"name": "REGION", "value": "eu-west-1"},
    ]
    unknown = await rig.api.get(f"{TASKS}/0b5a3c4e-2f1d-4c6b-9a8e-7d6c5b4a3f21")
    assert unknown.status_code == 400
    assert "not found" in unknown.json()["message"]


async def test_edit_by_metadata_id_updates_the_same_task(rig: EngineRig) -> None:
    task_id = await create(rig, task_yaml())
    edited = await create(
        rig,
        task_yaml("deploy-app", task_id=task_id).replace("recurring: false", "recurring: true")
        + '  at: "0 4 * * *"\n',
    )
    assert edited == task_id
    task = (await rig.api.get(f"{TASKS}/{task_id}")).json()["schedule"]
    assert (task["name"], task["recurring"], task["at"]) == ("deploy-app", True, "0 4 * * *")
    listed = await rig.api.get(TASKS, params={"project_id": "rig"})
    assert [t["id"] for t in listed.json()] == [task_id]
    gone = await rig.api.post(
        TASKS,
        json={"yml_definition": task_yaml(task_id="0b5a3c4e-2f1d-4c6b-9a8e-7d6c5b4a3f21")},
    )
    assert gone.status_code == 400
    assert gone.json()["message"].startswith("metadata.id:")


async def test_delete_removes_the_task(rig: EngineRig) -> None:
    task_id = await create(rig, task_yaml())
    deleted = await rig.api.delete(f"{TASKS}/{task_id}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == "Schedule successfully deleted."
    assert (await rig.api.get(f"{TASKS}/{task_id}")).status_code == 400
    assert (await rig.api.delete(f"{TASKS}/{task_id}")).status_code == 400


async def test_sem_run_task_with_parameters_starts_a_workflow_with_them_as_env(
    rig: EngineRig,
) -> None:
    task_id = await create(rig, task_yaml())
    # `sem run task ID --branch master --param DEPLOY_ENV=production`, as the CLI marshals it
    ran = await run_task(
        rig,
        task_id,
        {
            "reference": {"type": "BRANCH", "name": "master"},
            "parameters": {"DEPLOY_ENV": "production"},
        },
    )
    assert ran.status_code == 200, ran.text
    workflow_id = ran.json()["workflow_id"]
    await rig.settle()
    taken = await rig.take()
    # the agent protocol carries values base64-encoded, as Semaphore's does
    env = {e["name"]: b64decode(e["value"]).decode() for e in taken.payload["env_vars"]}
    assert env["SEMAPHORE_WORKFLOW_ID"] == workflow_id
    assert env["SEMAPHORE_WORKFLOW_TRIGGERED_BY_SCHEDULE"] == "true"
    assert (env["DEPLOY_ENV"], env["REGION"]) == ("production", "eu-west-1")


async def test_run_task_checks_required_parameters_and_options(rig: EngineRig) -> None:
    task_id = await create(rig, task_yaml())
    cases = [
        ({}, "parameters.DEPLOY_ENV: is required"),
        ({"parameters": {"DEPLOY_ENV": "  "}}, "parameters.DEPLOY_ENV: is required"),
        ({"parameters": {"DEPLOY_ENV": "moon"}}, "parameters.DEPLOY_ENV: 'moon' is not one of"),
        ({"parameters": {"1X": "a"}}, "parameters: '1X' is not an environment variable name"),
        ({"reference": {"type": "PR", "name": "1"}}, "reference.type"),
        ({"reference": {"type": "BRANCH", "name": " "}}, "reference.name"),
        (
            {
                "reference": {"type": "BRANCH", "name": "nope"},
                "parameters": {"DEPLOY_ENV": "staging"},
            },
            "branch: 'nope' not found",
        ),
        ({"parameters": "DEPLOY_ENV=staging"}, "parameters"),
    ]
    for body, message in cases:
        response = await run_task(rig, task_id, body)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["message"], (body, response.text)
    # the list of {name, value} Semaphore's other APIs use works too
    listed = await run_task(
        rig, task_id, {"parameters": [{"name": "DEPLOY_ENV", "value": "staging"}]}
    )
    assert listed.status_code == 200, listed.text


async def test_run_task_on_a_tag(rig: EngineRig) -> None:
    rig.repo.tag("v1.0")
    task_id = await create(rig, task_yaml())
    ran = await run_task(
        rig,
        task_id,
        {"reference": {"type": "TAG", "name": "v1.0"}, "parameters": {"DEPLOY_ENV": "staging"}},
    )
    assert ran.status_code == 200, ran.text
    (trigger,) = (await rig.api.get(f"{TASKS}/{task_id}")).json()["triggers"]
    assert (trigger["reference"], trigger["branch"]) == ("refs/tags/v1.0", "")
    missing = await run_task(
        rig,
        task_id,
        {"reference": {"type": "tag", "name": "v9"}, "parameters": {"DEPLOY_ENV": "staging"}},
    )
    assert missing.status_code == 400
    assert "tag 'v9' not found" in missing.json()["message"]


async def test_a_task_without_a_branch_needs_one_to_run(rig: EngineRig) -> None:
    task_id = await create(rig, task_yaml().replace("  branch: master\n", ""))
    plain = await run_task(rig, task_id, {"parameters": {"DEPLOY_ENV": "staging"}})
    assert plain.status_code == 400
    assert plain.json()["message"].startswith("reference:")
    given = await run_task(
        rig,
        task_id,
        {"reference": {"type": "BRANCH", "name": "master"}, "parameters": {"DEPLOY_ENV": "a"}},
    )
    assert given.status_code == 400  # 'a' is not one of the options
    ok = await run_task(
        rig,
        task_id,
        {"reference": {"name": "master"}, "parameters": {"DEPLOY_ENV": "staging"}},
    )
    assert ok.status_code == 200, ok.text


async def test_bad_task_definitions_are_400_naming_the_field(rig: EngineRig) -> None:
    cases = [
        (task_yaml().replace("recurring: false", "recurring: true"), "spec.at"),
        (task_yaml().replace("recurring: false", "recurring: maybe"), "spec.recurring"),
        (task_yaml(extra="      regex_pattern: x\n"), "spec.parameters.1.regex_pattern"),
        (task_yaml(extra="    - name: REGION\n      required: false\n"), "defined twice"),
        (
            task_yaml().replace("default_value: eu-west-1", "default_value: [a]"),
            "spec.parameters.1.default_value",
        ),
        (task_yaml().replace("name: DEPLOY_ENV", "name: deploy-env"), "spec.parameters.0.name"),
        (
            task_yaml().replace(
                "      required: true\n", "      required: true\n      default_value: dev\n"
            ),
            "spec.parameters.0.default_value: 'dev' is not one of the options",
        ),
        (task_yaml().replace("apiVersion: v1.1", "apiVersion: v2"), "apiVersion"),
    ]
    for text, word in cases:
        response = await rig.api.post(TASKS, json={"yml_definition": text})
        assert response.status_code == 400, (word, response.text)
        assert word in response.json()["message"], (word, response.text)


async def test_tasks_are_authorised_as_schedules(rig: EngineRig, make_client: MakeClient) -> None:
    task_id = await create(rig, task_yaml())
    bob = await make_client("bob")
    assert (await bob.get(f"{TASKS}/{task_id}")).status_code == 400  # not visible: not found
    assert (await bob.get(TASKS, params={"project_id": "rig"})).status_code == 404
    public = await rig.api.patch(f"{API}/projects/rig", json={"spec": {"visibility": "public"}})
    assert public.status_code == 200, public.text
    assert (await bob.get(f"{TASKS}/{task_id}")).status_code == 200
    ran = await bob.post(
        f"{TASKS}/{task_id}/run_now", json={"parameters": {"DEPLOY_ENV": "staging"}}
    )
    assert ran.status_code == 403
    assert (await bob.delete(f"{TASKS}/{task_id}")).status_code == 403
