"""In a real browser: run a workflow from the project page, watch it pass on the workflow
page without a reload, promote it with parameters, and a second user's 404 page."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.ui.accessibility import assert_accessible
from tests.ui.conftest import TIMEOUT_MS, UiRig, log_in, shoot

AGENT = "agent:\n  machine:\n    type: e1-standard-2\n    os_image: ubuntu2004\n"
BUILD = (
    "version: v1.0\nname: Build\n" + AGENT + "blocks:\n"
    "  - name: Build\n    task:\n      jobs:\n"
    "        - name: compile\n          commands: [echo compiled]\n"
    "promotions:\n"
    "  - name: Deploy\n"
    "    pipeline_file: deploy.yml\n"
    "    parameters:\n"
    "      env_vars:\n"
    "        - name: VERSION\n"
    "          required: true\n"
    "        - name: REGION\n"
    "          required: false\n"
    "          options: [eu, us]\n"
)
DEPLOY = (
    "version: v1.0\nname: Deploy\n" + AGENT + "blocks:\n"
    "  - name: Ship\n    task:\n      jobs:\n"
    "        - name: ship\n          commands: ['echo \"shipping $VERSION to $REGION\"']\n"
)
DONE_MS = 60_000


def test_running_and_promoting_a_workflow_from_the_ui(
    page: Page, chromium: Browser, ui: UiRig
) -> None:
    ui.repo.commit(
        {".semaphore/semaphore.yml": BUILD, ".semaphore/deploy.yml": DEPLOY},
        "Pipelines to run from the UI",
    )
    page.goto("/ui/projects/web")
    expect(page.get_by_role("heading", name="web", exact=True)).to_be_visible()
    page.get_by_label("Reference").fill("no-such-branch")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("no-such-branch")
    page.get_by_label("Reference").fill("master")
    page.get_by_role("button", name="Run", exact=True).click()

    expect(
        page.get_by_role("heading", name=re.compile(r"^Workflow #\d+ · master$"))
    ).to_be_visible()
    workflow_url = page.url
    pipelines = page.locator(".pipelines tbody tr")
    # the list refreshes itself: no reload between running and passed
    expect(pipelines.first.locator(".badge")).to_have_text("passed", timeout=DONE_MS)
    form = page.locator("form.promotion")
    expect(form.get_by_label("REGION")).to_have_value("")
    assert_accessible(page)
    shoot(page, "workflow")

    form.get_by_label("VERSION").fill("1.2.3")
    form.get_by_label("REGION").select_option("us")
    form.get_by_role("button", name="Promote to Deploy").click()
    expect(pipelines).to_have_count(2)
    promoted = pipelines.nth(1)
    expect(promoted).to_contain_text("promoted from 1. by admin")
    expect(promoted).to_contain_text("REGION=us, VERSION=1.2.3")
    expect(promoted.locator(".badge")).to_have_text("passed", timeout=DONE_MS)
    expect(page.locator("table.past")).to_contain_text("Deploy")
    shoot(page, "workflow-promoted")

    page.get_by_role("link", name="web", exact=True).first.click()
    expect(page.get_by_role("heading", name="web", exact=True)).to_be_visible()
    rows = page.locator("table.workflows tbody tr")
    expect(rows.first).to_contain_text("Pipelines to run from the UI")
    expect(rows.first.locator(".badge")).to_have_text("passed")
    page.get_by_label("Result").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No workflows match these filters.")).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    expect(rows).to_have_count(1)
    assert_accessible(page)
    shoot(page, "project")
    for url in (page.url, workflow_url):
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} scrolls sideways on a phone ({width}px)"
    shoot(page, "workflow-phone")

    password = ui.user("eve")
    other = chromium.new_context(base_url=ui.server.url)
    other.set_default_timeout(TIMEOUT_MS)
    stranger = other.new_page()
    log_in(stranger, "eve", password)
    stranger.goto("/ui/projects/web")
    expect(stranger.get_by_role("heading", name="Not found")).to_be_visible()
    stranger.goto(workflow_url)
    expect(stranger.get_by_role("heading", name="Not found")).to_be_visible()
    other.close()
