"""Webhooks: real forge payloads (tests/data/hooks), signed with the project's secret and
posted to /hooks/{provider}/{project}; each delivery is recorded with its decision, and the
starter starts the workflows of accepted ones."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db.models import HookDelivery, Workflow
from blockpost.hooks.starter import Starter
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

DATA = Path(__file__).parent.parent / "data" / "hooks"
PIPELINE = pipeline_yaml(block("Build", "compile"))


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / name).read_text()))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, PIPELINE)
    yield made
    await made.close()


async def secret_of(rig: EngineRig) -> str:
    answer = await rig.api.post(f"{API}/projects/{rig.project_id}/webhook")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["secret"])


async def configure(rig: EngineRig, **repository: Any) -> None:
    answer = await rig.api.patch(
        f"{API}/projects/{rig.project_id}", json={"spec": {"repository": repository}}
    )
    assert answer.status_code == 200, answer.text


def signed(provider: str, secret: str, body: bytes, event: str, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json"}
    if provider == "github":
        headers |= {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": f"sha256={digest}",
        }
    elif provider == "gitea":
        headers |= {
            "X-Gitea-Event": event,
            "X-Gitea-Delivery": delivery,
            "X-Gitea-Signature": digest,
        }
    elif provider == "gitlab":
        headers |= {
            "X-Gitlab-Event": event,
            "X-Gitlab-Event-UUID": delivery,
            "X-Gitlab-Token": secret,
        }
    else:
        headers |= {
            "X-Event-Key": event,
            "X-Request-UUID": delivery,
            "X-Hub-Signature": f"sha256={digest}",
        }
    return headers


async def post(
    rig: EngineRig,
    provider: str,
    secret: str,
    payload: dict[str, Any],
    event: str,
    delivery: str,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = signed(provider, secret, body, event, delivery)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rig.app), base_url="http://test"
    ) as anon:
        return await anon.post(f"/hooks/{provider}/{rig.project_id}", content=body, headers=headers)


# The payloads with only their refs and commits pointed at the test's repository
def github_push(ref: str, sha: str, message: str | None = None) -> dict[str, Any]:
    payload = load("github/push.json")
    payload["ref"], payload["after"] = ref, sha
    payload["head_commit"]["id"] = sha
    if message is not None:
        payload["head_commit"]["message"] = message
    return payload


def github_tag(tag: str, sha: str) -> dict[str, Any]:
    payload = load("github/tag_push.json")
    payload["ref"], payload["after"] = f"refs/tags/{tag}", sha
    return payload


def github_pull(
    action_file: str, number: int, sha: str, *, fork: bool = False, draft: bool = False
) -> dict[str, Any]:
    payload = load(f"github/{action_file}.json")
    payload["number"] = number
    pull = payload["pull_request"]
    pull["number"], pull["draft"] = number, draft
    pull["head"]["sha"] = sha
    if fork:
        pull["head"]["repo"]["full_name"] = "outsider/Hello-World"
    return payload


def gitlab_push(ref: str, sha: str) -> dict[str, Any]:
    payload = load("gitlab/push.json" if ref.startswith("refs/heads/") else "gitlab/tag_push.json")
    payload["ref"], payload["after"], payload["checkout_sha"] = ref, sha, sha
    if payload["commits"]:
        payload["commits"][-1]["id"] = sha
    return payload


def gitlab_merge_request(number: int, sha: str, *, fork: bool = False) -> dict[str, Any]:
    payload = load("gitlab/merge_request.json")
    attrs = payload["object_attributes"]
    attrs["iid"], attrs["last_commit"]["id"] = number, sha
    if fork:
        attrs["source_project_id"] = 99
    return payload


def gitea_push(ref: str, sha: str) -> dict[str, Any]:
    payload = load("gitea/push.json")
    payload["ref"], payload["after"] = ref, sha
    payload["commits"][0]["id"] = sha
    return payload


def bitbucket_push(kind: str, name: str, sha: str) -> dict[str, Any]:
    payload = load("bitbucket/push.json")
    new = payload["push"]["changes"][0]["new"]
    new["type"], new["name"], new["target"]["hash"] = kind, name, sha
    return payload


async def deliveries(rig: EngineRig, **params: Any) -> httpx.Response:
    answer = await rig.api.get(f"{API}/projects/{rig.project_id}/hook_deliveries", params=params)
    assert answer.status_code == 200, answer.text
    return answer


async def count(rig: EngineRig, model: type[Any]) -> int:
    async with rig.app.state.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def starter(rig: EngineRig) -> Starter:
    return Starter(rig.app.state.engine, rig.app.state.hook_signal)


async def test_a_github_push_starts_a_hook_workflow_of_the_pushed_commit(rig: EngineRig) -> None:
    secret = await secret_of(rig)
    sha = rig.repo.commit({"a.txt": "1"}, "Add a")
    answer = await post(
        rig, "github", secret, github_push("refs/heads/master", sha), "push", "gh-1"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "accepted"
    assert await starter(rig).run_once() == 1
    listed = (await deliveries(rig)).json()
    assert [(d["state"], d["provider"], d["event"], d["reference"]) for d in listed] == [
        ("started", "github", "branch", "refs/heads/master")
    ]
    delivery = listed[0]
    assert delivery["delivery_id"] == "gh-1"
    assert delivery["commit_sha"] == sha
    assert delivery["commit_author"] == "Codertocat"  # the payload's head commit author
    described = await rig.api.get(f"{API}/plumber-workflows/{delivery['workflow_id']}")
    workflow = described.json()["workflow"]
    assert workflow["triggered_by"] == "HOOK"
    assert workflow["hook_id"] == delivery["id"]
    assert workflow["commit_sha"] == sha
    assert workflow["branch_name"] == "master"
    await rig.settle()
    taken = await rig.take()
    env = {e["name"]: base64.b64decode(e["value"]).decode() for e in taken.payload["env_vars"]}
    assert env["SEMAPHORE_WORKFLOW_TRIGGERED_BY_HOOK"] == "true"
    assert env["SEMAPHORE_GIT_COMMIT_AUTHOR"] == "Ada Tester"  # from git, as for any run


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "sha1=abc", ""],
    ids=["missing", "wrong", "other-scheme", "empty"],
)
async def test_a_bad_or_missing_signature_is_401_and_stores_nothing(
    rig: EngineRig, signature: str | None
) -> None:
    secret = await secret_of(rig)
    body = json.dumps(github_push("refs/heads/master", rig.repo.git("rev-parse", "HEAD")))
    headers = signed("github", secret, body.encode(), "push", "gh-bad")
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rig.app), base_url="http://test"
    ) as anon:
        answer = await anon.post(f"/hooks/github/{rig.project_id}", content=body, headers=headers)
        # a project that does not exist gets the same answer (the URL tells a stranger nothing)
        unknown = await anon.post("/hooks/github/no-such-project", content=body, headers=headers)
    assert answer.status_code == 401, answer.text
    assert "signature" in answer.json()["message"]
    assert unknown.status_code == 401
    assert await count(rig, HookDelivery) == 0


async def test_each_forges_signature_scheme_is_checked(rig: EngineRig) -> None:
    secret = await secret_of(rig)
    sha = rig.repo.git("rev-parse", "HEAD")
    cases = [
        ("gitlab", gitlab_push("refs/heads/master", sha), "Push Hook", "X-Gitlab-Token"),
        ("gitea", gitea_push("refs/heads/master", sha), "push", "X-Gitea-Signature"),
        ("bitbucket", bitbucket_push("branch", "master", sha), "repo:push", "X-Hub-Signature"),
    ]
    for provider, payload, event, header in cases:
        body = json.dumps(payload).encode()
        headers = signed(provider, secret, body, event, f"{provider}-1")
        good = dict(headers)
        headers[header] = headers[header][:-2] + "00"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=rig.app), base_url="http://test"
        ) as anon:
            bad = await anon.post(
                f"/hooks/{provider}/{rig.project_id}", content=body, headers=headers
            )
            ok = await anon.post(f"/hooks/{provider}/{rig.project_id}", content=body, headers=good)
        assert bad.status_code == 401, (provider, bad.text)
        assert ok.status_code == 200, (provider, ok.text)
    assert await count(rig, HookDelivery) == 3


async def test_a_rotated_secret_replaces_the_old_one(rig: EngineRig) -> None:
    old = await secret_of(rig)
    new = await secret_of(rig)
    sha = rig.repo.git("rev-parse", "HEAD")
    payload = github_push("refs/heads/master", sha)
    assert (await post(rig, "github", old, payload, "push", "gh-old")).status_code == 401
    assert (await post(rig, "github", new, payload, "push", "gh-new")).status_code == 200


async def test_a_replayed_delivery_is_answered_without_a_second_workflow(rig: EngineRig) -> None:
    secret = await secret_of(rig)
    sha = rig.repo.commit({"b.txt": "1"}, "Add b")
    payload = github_push("refs/heads/master", sha)
    first = await post(rig, "github", secret, payload, "push", "gh-replay")
    await starter(rig).run_once()
    again = await post(rig, "github", secret, payload, "push", "gh-replay")
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["delivery_id"] == first.json()["delivery_id"]
    assert again.json()["state"] == "started"
    await starter(rig).run_once()
    assert await count(rig, Workflow) == 1
    assert await count(rig, HookDelivery) == 1


async def test_skip_ci_in_the_head_commit_message_skips(rig: EngineRig) -> None:
    secret = await secret_of(rig)
    sha = rig.repo.commit({"c.txt": "1"}, "Docs only [skip ci]")
    payload = github_push("refs/heads/master", sha, "Docs only [skip ci]")
    answer = await post(rig, "github", secret, payload, "push", "gh-skip")
    assert answer.json() | {"delivery_id": ""} == {
        "delivery_id": "",
        "state": "skipped",
        "reason": "the commit message says [skip ci]",
        "replayed": False,
    }
    # a pull request's payload has no commit message: its head commit's is read from git
    head = rig.repo.commit({"d.txt": "1"}, "WIP [CI SKIP]")
    rig.repo.git("update-ref", "refs/pull/7/head", head)
    await configure(rig, run_on=["branches", "pull_requests"])
    pull = github_pull("pull_request_opened", 7, head)
    assert (await post(rig, "github", secret, pull, "pull_request", "gh-pr-skip")).json()[
        "state"
    ] == "accepted"
    await starter(rig).run_once()
    listed = {d["delivery_id"]: d for d in (await deliveries(rig)).json()}
    assert listed["gh-pr-skip"]["state"] == "skipped"
    assert listed["gh-pr-skip"]["reason"] == "the commit message says [ci skip]"
    assert await count(rig, Workflow) == 0


async def test_a_decision_is_answered_and_listed_with_its_reason(rig: EngineRig) -> None:
    await configure(rig, whitelist={"branches": ["master"]})
    secret = await secret_of(rig)
    sha = rig.repo.git("rev-parse", "HEAD")
    answer = await post(
        rig, "gitea", secret, gitea_push("refs/heads/develop", sha), "push", "gitea-1"
    )
    assert answer.json()["state"] == "skipped"
    listed = (await deliveries(rig)).json()
    assert [(d["provider"], d["state"], d["reason"], d["workflow_id"]) for d in listed] == [
        (
            "gitea",
            "skipped",
            "branch 'develop' is not in spec.repository.whitelist.branches",
            None,
        )
    ]
    assert await starter(rig).run_once() == 0


async def test_a_poll_interval_is_validated_and_shown_with_the_webhook(rig: EngineRig) -> None:
    for bad in (5, -1, 86401):
        answer = await rig.api.patch(
            f"{API}/projects/{rig.project_id}",
            json={"spec": {"repository": {"poll_interval": bad}}},
        )
        assert answer.status_code == 400, answer.text
        assert "poll_interval" in answer.json()["message"]
    await configure(rig, poll_interval=60)
    described = await rig.api.get(f"{API}/projects/{rig.project_id}/webhook")
    assert described.json()["poll_interval"] == 60


async def test_the_branch_whitelist_lets_a_branch_that_was_built_before_through(
    rig: EngineRig,
) -> None:
    """ "Whitelisting works only for newly created branches": an existing one still builds."""
    secret = await secret_of(rig)
    rig.repo.checkout("old-branch", new=True)
    sha = rig.repo.commit({"e.txt": "1"}, "On old-branch")
    await rig.run("refs/heads/old-branch")
    await configure(rig, whitelist={"branches": ["master"]})
    answer = await post(
        rig, "github", secret, github_push("refs/heads/old-branch", sha), "push", "gh-old-branch"
    )
    assert answer.json()["state"] == "accepted"


async def test_a_forked_pull_request_runs_without_secrets_unless_allowed(rig: EngineRig) -> None:
    for name, value in (("deploy-key", "s3cr3t"), ("public-token", "shareable")):
        body = {
            "metadata": {"name": name},
            "data": {"env_vars": [{"name": name.upper().replace("-", "_"), "value": value}]},
        }
        assert (await rig.api.post("/api/v1beta/secrets", json=body)).status_code == 200
    uses = "      secrets:\n        - name: deploy-key\n        - name: public-token\n"
    head = rig.repo.commit(
        {".semaphore/semaphore.yml": pipeline_yaml(block("Build", "compile", extra="")).replace(
            "    task:\n", "    task:\n" + uses)},
        "From a fork",
    )  # fmt: skip
    rig.repo.git("update-ref", "refs/pull/5/head", head)
    await configure(
        rig,
        run_on=["forked_pull_requests"],
        forked_pull_requests={"allowed_secrets": ["public-token"]},
    )
    secret = await secret_of(rig)
    payload = github_pull("pull_request_opened", 5, head, fork=True)
    answer = await post(rig, "github", secret, payload, "pull_request", "gh-fork")
    assert answer.json()["state"] == "accepted"
    await starter(rig).run_once()
    listed = (await deliveries(rig)).json()
    assert listed[0]["state"] == "started", listed[0]
    assert listed[0]["pull_request"]["fork"] is True
    await rig.settle()
    taken = await rig.take()
    env = {e["name"]: base64.b64decode(e["value"]).decode() for e in taken.payload["env_vars"]}
    assert env["PUBLIC_TOKEN"] == "shareable"
    assert "DEPLOY_KEY" not in env
    assert "s3cr3t" not in json.dumps(taken.payload)
    assert env["SEMAPHORE_GIT_REF_TYPE"] == "pull-request"
    assert env["SEMAPHORE_GIT_PR_NUMBER"] == "5"
    # what only the forge knows comes from its payload: the fork, its branch, the title
    assert env["SEMAPHORE_GIT_PR_SLUG"] == "outsider/Hello-World"
    assert env["SEMAPHORE_GIT_PR_BRANCH"] == "changes"
    assert env["SEMAPHORE_GIT_PR_NAME"] == payload["pull_request"]["title"]
    assert env["SEMAPHORE_GIT_BRANCH"] == "master"
    assert env["SEMAPHORE_GIT_PR_SHA"] == head


async def test_deliveries_are_listed_newest_first_in_pages(rig: EngineRig) -> None:
    secret = await secret_of(rig)
    sha = rig.repo.git("rev-parse", "HEAD")
    for index in range(3):
        answer = await post(
            rig, "github", secret, github_push("refs/heads/master", sha), "push", f"gh-{index}"
        )
        assert answer.status_code == 200
    first = await deliveries(rig, page_size=2)
    assert [d["delivery_id"] for d in first.json()] == ["gh-2", "gh-1"]
    assert first.headers["total"] == "3"
    assert 'rel="next"' in first.headers["link"]
    second = await deliveries(rig, page_size=2, page=2)
    assert [d["delivery_id"] for d in second.json()] == ["gh-0"]


async def test_only_the_owner_or_an_admin_sees_and_rotates_the_webhook(
    rig: EngineRig, bob: httpx.AsyncClient
) -> None:
    described = await rig.api.get(f"{API}/projects/{rig.project_id}/webhook")
    assert described.status_code == 200
    body = described.json()
    assert body["secret_set"] is False
    assert body["secret"] is None
    assert body["urls"]["github"].endswith(f"/hooks/github/{rig.project_id}")
    assert set(body["urls"]) == {"github", "gitlab", "gitea", "bitbucket"}
    made = (await rig.api.post(f"{API}/projects/{rig.project_id}/webhook")).json()
    assert made["secret"]
    assert made["secret_set"] is True
    again = (await rig.api.get(f"{API}/projects/{rig.project_id}/webhook")).json()
    assert again["secret"] is None
    assert again["rotated_at"]
    for method in ("get", "post"):
        refused = await getattr(bob, method)(f"{API}/projects/{rig.project_id}/webhook")
        assert refused.status_code in (403, 404), refused.text


async def test_an_accepted_delivery_starts_after_a_restart(
    rig: EngineRig, settings: Settings
) -> None:
    """Recorded and answered, then the server stops before starting it: the next server's
    starter starts it."""
    secret = await secret_of(rig)
    sha = rig.repo.commit({"f.txt": "1"}, "Before the restart")
    await post(rig, "github", secret, github_push("refs/heads/master", sha), "push", "gh-r")
    restarted = create_app(settings)
    try:
        async with restarted.router.lifespan_context(restarted):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                listed = (await deliveries(rig)).json()
                if listed[0]["state"] != "accepted":
                    break
                await asyncio.sleep(0.05)
    finally:
        await restarted.state.db.dispose()
    assert listed[0]["state"] == "started", listed[0]
    assert await count(rig, Workflow) == 1


async def test_the_hook_answers_within_100_ms(rig: EngineRig) -> None:
    secret = await secret_of(rig)
    sha = rig.repo.git("rev-parse", "HEAD")
    timings = []
    for index in range(5):
        began = time.perf_counter()
        answer = await post(
            rig, "github", secret, github_push("refs/heads/master", sha), "push", f"t-{index}"
        )
        timings.append(time.perf_counter() - began)
        assert answer.status_code == 200
    assert sorted(timings)[2] < 0.1, timings  # the median: the fetch is not in the answer


async def test_a_burst_of_50_pushes_with_auto_cancel_leaves_only_the_newest_running(
    rig: EngineRig,
) -> None:
    rig.repo.commit(
        {
            ".semaphore/semaphore.yml": pipeline_yaml(
                block("Build", "compile"),
                head="auto_cancel:\n  running:\n    when: \"branch = 'master'\"\n",
            )
        },
        "auto_cancel",
    )
    secret = await secret_of(rig)
    shas = [rig.repo.commit({"n.txt": str(n)}, f"push {n}") for n in range(50)]
    for n, sha in enumerate(shas):
        answer = await post(
            rig, "github", secret, github_push("refs/heads/master", sha), "push", f"burst-{n}"
        )
        assert answer.json()["state"] == "accepted"
    assert await starter(rig).run_once() == 50
    await rig.settle()
    async with rig.app.state.db.session() as session:
        rows = (
            await session.execute(
                select(Workflow.commit_sha, Workflow.initial_ppl_id).order_by(Workflow.number)
            )
        ).all()
    assert [sha for sha, _ in rows] == shas  # started in the order they were pushed
    states = [await rig.state(ppl_id) for _, ppl_id in rows]
    assert states[-1][0] in ("queuing", "running"), states[-1]
    # the older ones end by the strategy: stopped when they had started, else canceled
    assert {state[0] for state in states[:-1]} == {"done"}, states
    assert {state[2] for state in states[:-1]} == {"strategy"}, states
