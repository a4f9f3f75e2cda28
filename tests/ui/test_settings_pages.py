"""In a real browser: the API tokens, agents, secrets and deployment targets pages."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.ui.accessibility import assert_accessible
from tests.ui.conftest import API, UiRig, shoot

SECRET = "s3cret-value-never-shown"
HEAD = (
    "version: v1.0\nname: {name}\n"
    "agent:\n  machine:\n    type: e1-standard-2\n    os_image: ubuntu2004\n"
)
BUILD = (
    HEAD.format(name="Build")
    + """\
blocks:
  - name: Build
    task:
      jobs:
        - name: build
          commands: [echo built]
promotions:
  - name: Production
    pipeline_file: production.yml
    deployment_target: production
"""
)
PRODUCTION = (
    HEAD.format(name="Production")
    + """\
blocks:
  - name: Deploy
    task:
      jobs:
        - name: deploy
          commands: [echo deployed]
"""
)


def wait_done(api: httpx.Client, pipeline_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body = api.get(f"{API}/pipelines/{pipeline_id}").json()
        if body["pipeline"]["state"] == "done":
            return dict(body["pipeline"])
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def deploy_once(ui: UiRig) -> str:
    """A build promoted through target `production`: one deployment in its history."""
    ui.repo.commit(
        {".semaphore/semaphore.yml": BUILD, ".semaphore/production.yml": PRODUCTION}, "deploys"
    )
    target = ui.api.post(
        f"{API}/deployment_targets",
        params={"project_id": ui.project_id},
        json={
            "name": "production",
            "unique_token": "ui-production",
            "description": "the live site",
            "object_rules": [{"type": "BRANCH", "match_mode": "EXACT", "pattern": "master"}],
            "env_vars": [{"name": "DEPLOY_KEY", "value": SECRET}],
        },
    )
    assert target.status_code == 200, target.text
    build = ui.api.post(
        f"{API}/plumber-workflows",
        json={"project_id": ui.project_id, "reference": "refs/heads/master"},
    ).json()
    assert wait_done(ui.api, build["pipeline_id"])["result"] == "passed"
    promoted = ui.api.post(
        f"{API}/promotions", json={"pipeline_id": build["pipeline_id"], "name": "Production"}
    )
    assert promoted.status_code == 200, promoted.text
    (promotion,) = ui.api.get(
        f"{API}/promotions", params={"pipeline_id": build["pipeline_id"]}
    ).json()
    assert wait_done(ui.api, promotion["scheduled_pipeline_id"])["result"] == "passed"
    return str(promotion["scheduled_pipeline_id"])


def make_secrets(ui: UiRig) -> None:
    content = base64.b64encode(SECRET.encode()).decode()
    for url, name in (("/api/v1beta/secrets", "aws"), ("/api/v1/projects/web/secrets", "npm")):
        body = {
            "metadata": {"name": name, "description": f"{name} credentials"},
            "data": {
                "env_vars": [{"name": f"{name.upper()}_TOKEN", "value": SECRET}],
                "files": [{"path": f".{name}/credentials", "content": content}],
            },
        }
        assert ui.api.post(url, json=body).status_code == 200


def assert_fits_a_phone(page: Page) -> None:
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} scrolls sideways on a phone ({width}px)"
    assert size is not None
    page.set_viewport_size(size)


def test_tokens_agents_secrets_and_deployment_targets(page: Page, ui: UiRig) -> None:
    deployed = deploy_once(ui)
    make_secrets(ui)
    page.on("dialog", lambda dialog: dialog.accept())

    # API tokens: made, shown once with how to use it, working, then expired.
    page.goto("/ui/tokens")
    assert_accessible(page)
    page.get_by_role("button", name="Create a token").click()
    expect(page.get_by_role("heading", name="New API token")).to_be_visible()
    token = page.get_by_label("API token").input_value()
    expect(page.get_by_text(f"Authorization: Token {token}")).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copied")).not_to_be_empty()
    assert_accessible(page)
    shoot(page, "token-created")
    with httpx.Client(base_url=ui.server.url, headers={"Authorization": f"Token {token}"}) as api:
        assert api.get(f"{API}/projects").status_code == 200
        page.goto("/ui/tokens")
        assert token not in page.content()
        public_id = hashlib.sha256(token.encode()).hexdigest()[:16]  # the list names it so
        mine = page.get_by_role("row", name=re.compile(public_id))
        expect(mine.get_by_text("active", exact=True)).to_be_visible()
        assert_fits_a_phone(page)
        mine.get_by_role("button", name=f"Expire token {public_id}").click()
        expect(mine.get_by_text("expired", exact=True)).to_be_visible()
        assert api.get(f"{API}/projects").status_code == 401
    assert_accessible(page)
    shoot(page, "tokens")

    # Agents: the server's two embedded agents, and a new type whose token is shown once.
    page.goto("/ui/agents")
    local = page.locator("section.agent-type", has=page.get_by_role("heading", name="s1-local"))
    expect(local.locator("tbody tr")).to_have_count(2)
    expect(local.get_by_text("waiting for job")).to_have_count(2)
    assert_accessible(page)
    assert_fits_a_phone(page)
    shoot(page, "agents")
    page.get_by_label("New agent type").fill("s1-browser")
    page.get_by_role("button", name="Create agent type").click()
    expect(page.get_by_role("heading", name="Agent type s1-browser")).to_be_visible()
    registration = page.get_by_label("Registration token").input_value()
    assert len(registration) > 20
    assert_accessible(page)
    shoot(page, "agent-type-created")
    page.get_by_role("link", name="Back to agents").click()
    created = page.locator("section.agent-type", has=page.get_by_role("heading", name="s1-browser"))
    expect(created.get_by_text("No agent of this type is connected")).to_be_visible()
    assert registration not in page.content()

    # Secrets: names, variable names and file paths; never a value.
    page.goto("/ui/secrets")
    expect(page.get_by_text("AWS_TOKEN")).to_be_visible()
    expect(page.get_by_text(".npm/credentials")).to_be_visible()
    html = page.content()
    assert SECRET not in html
    assert base64.b64encode(SECRET.encode()).decode() not in html
    assert_accessible(page)
    assert_fits_a_phone(page)
    shoot(page, "secrets")
    page.get_by_role("button", name="Delete secret npm of web").click()
    expect(page.get_by_text("No secrets of this project.")).to_be_visible()
    assert ui.api.get("/api/v1/projects/web/secrets").json()["secrets"] == []

    # Deployment targets: rules, state and the promotion in its history; cordon and back.
    page.goto("/ui/deployment_targets")
    target = page.locator("article.target")
    expect(target.get_by_role("heading", name=re.compile("production"))).to_be_visible()
    expect(target.get_by_text("master (exact)")).to_be_visible()
    row = target.locator("table.history tbody tr")
    expect(row).to_have_count(1)
    expect(row.get_by_text("passed")).to_be_visible()
    expect(row.get_by_text("admin")).to_be_visible()
    expect(row.get_by_role("link", name="Production")).to_have_attribute(
        "href", f"/ui/pipelines/{deployed}"
    )
    assert SECRET not in page.content()
    assert_accessible(page)
    assert_fits_a_phone(page)
    shoot(page, "deployment-targets")
    page.get_by_role("button", name="Cordon production").click()
    expect(target.get_by_text("cordoned", exact=True)).to_be_visible()
    page.get_by_role("button", name="Activate production").click()
    expect(target.get_by_text("active", exact=True)).to_be_visible()
