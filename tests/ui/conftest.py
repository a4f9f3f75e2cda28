"""Browser tests: Playwright drives the system's Chromium against a real server with agents.

Chromium comes from the system (Debian's `chromium`; `.ci/run` installs it), never from a
download by Playwright. Without it these tests skip, unless BLOCKPOST_REQUIRE_BROWSER=1 (CI)
makes that a failure. Screenshots of each page land in tests/ui/screenshots/ (not committed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support.databases import fresh_database
from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess, let_jobs_reach

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).parent / "screenshots"
API = "/api/v1alpha"
TIMEOUT_MS = 20_000
# As the machine's own probe starts it: no sandbox as root, and no background calls home
# (the network is closed; each refused connection costs time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("BLOCKPOST_TEST_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


# Per module, not per session: while Playwright's driver is up it keeps an event loop running
# in the test's thread, and later tests of the same worker could not asyncio.run anything.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if chromium_path() is None:
        reason = "no chromium on this machine (apt-get install chromium)"
        if os.environ.get("BLOCKPOST_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class UiRig:
    """A server with two embedded agents, a project `web` on a real git repository, and an
    admin API client to set things up quickly where the page under test is elsewhere."""

    server: ServerProcess
    api: httpx.Client
    repo: GitRepo
    project_id: str
    tmp: Path

    def user(self, username: str, password: str = "user-password-1") -> str:
        made = self.api.post(
            "/api/users",
            json={"username": username, "password": password, "email": f"{username}@x.test"},
        )
        assert made.status_code in (200, 201), made.text
        return password


@pytest.fixture(scope="module")
def ui(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiRig]:
    tmp = tmp_path_factory.mktemp("ui")
    let_jobs_reach(tmp)
    with fresh_database(database_url, tmp, "ui") as url:
        repo = GitRepo(tmp / "web-repo")
        repo.commit({"marker.txt": "x\n"}, "initial")
        server = ServerProcess(url, tmp / "data", extra_env={"BLOCKPOST_AGENTS": "2"}).start()
        try:
            with server.admin_client() as api:
                created = api.post(
                    f"{API}/projects",
                    json={"metadata": {"name": "web"}, "spec": {"repository": {"url": repo.url}}},
                )
                assert created.status_code == 200, created.text
                yield UiRig(server, api, repo, created.json()["metadata"]["id"], tmp)
        finally:
            server.stop()


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


@pytest.fixture
def page(chromium: Browser, ui: UiRig) -> Iterator[Page]:
    """A fresh browser profile, logged in as admin through the login form."""
    context = chromium.new_context(base_url=ui.server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    log_in(opened, "admin", ui.server.admin_password)
    yield opened
    context.close()


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot for people to look at (CI keeps the folder)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
