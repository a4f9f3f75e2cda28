"""In a real browser: logging in and out, the projects page, keyboard use and labels."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.ui.accessibility import assert_accessible
from tests.ui.conftest import UiRig, log_in, shoot


def test_logging_in_shows_projects_and_logging_out_ends_the_session(
    chromium: Browser, ui: UiRig
) -> None:
    context = chromium.new_context(base_url=ui.server.url)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(f"{ui.server.url}/ui/login?next=%2F")
    assert_accessible(page)
    shoot(page, "login")
    # Keyboard only: the username field has focus, Tab reaches the password, Enter submits.
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong-password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("wrong login or password")
    log_in(page, "admin", ui.server.admin_password)
    expect(page.get_by_role("link", name="web", exact=True)).to_be_visible()
    assert_accessible(page)
    shoot(page, "projects")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto("/ui/projects")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    context.close()


def test_pages_stay_readable_on_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/projects")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    shoot(page, "projects-phone")
