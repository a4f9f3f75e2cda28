"""Logging in and out of the web UI, what every page carries, and errors as pages."""

from __future__ import annotations

import httpx

from tests.conftest import PASSWORD
from tests.web.conftest import Browser, csrf_of, submit


async def test_a_browser_without_a_session_is_sent_to_the_login_page_and_back(
    anon: httpx.AsyncClient, make_user
) -> None:
    await make_user("carol")
    root = await anon.get("/")
    assert root.status_code == 303
    assert root.headers["location"] == "/ui/login?next=%2F"
    deep = await anon.get("/ui/projects?page_number=2")
    assert deep.headers["location"] == "/ui/login?next=%2Fui%2Fprojects%3Fpage_number%3D2"
    answer = await submit(
        anon,
        deep.headers["location"],
        "/ui/login",
        {"auth": "carol", "password": PASSWORD, "next": "/ui/projects?page_number=2"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/projects?page_number=2"
    assert "HttpOnly" in answer.headers["set-cookie"]
    projects = await anon.get("/ui/projects")
    assert projects.status_code == 200
    assert "carol" in projects.text
    assert (await anon.get("/")).headers["location"] == "/ui/projects"


async def test_a_wrong_password_shows_the_form_again_with_the_reason(
    anon: httpx.AsyncClient, make_user
) -> None:
    await make_user("dan")
    answer = await submit(anon, "/ui/login", "/ui/login", {"auth": "dan", "password": "nope"})
    assert answer.status_code == 401
    assert "wrong login or password" in answer.text
    assert 'value="dan"' in answer.text
    assert (await anon.get("/ui/projects")).status_code == 303


async def test_too_many_wrong_passwords_answer_429_with_retry_after(
    anon: httpx.AsyncClient, make_user
) -> None:
    await make_user("quinn")
    statuses = []
    for _ in range(6):
        answer = await submit(anon, "/ui/login", "/ui/login", {"auth": "quinn", "password": "no"})
        statuses.append(answer.status_code)
    assert statuses == [401] * 5 + [429]
    assert int(answer.headers["retry-after"]) > 0
    assert answer.headers["content-type"].startswith("text/html")


async def test_a_form_without_its_token_is_refused_and_changes_nothing(
    anon: httpx.AsyncClient, make_user, browser: Browser
) -> None:
    await make_user("erin")
    refused = await anon.post("/ui/login", data={"auth": "erin", "password": PASSWORD})
    assert refused.status_code == 403
    assert "security token" in refused.text
    assert (
        "set-cookie" not in refused.headers
        or "blockpost_session" not in refused.headers["set-cookie"]
    )
    client = await browser("frank")
    forged = await client.post("/ui/logout", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert (await client.get("/ui/projects")).status_code == 200


async def test_a_token_from_another_session_does_not_pass(browser: Browser) -> None:
    gina = await browser("gina")
    hank = await browser("hank")
    stolen = csrf_of((await gina.get("/ui/projects")).text)
    assert (await hank.post("/ui/logout", data={"csrf_token": stolen})).status_code == 403


async def test_next_never_leads_off_this_server(anon: httpx.AsyncClient, make_user) -> None:
    await make_user("ivan")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        anon.cookies.clear()
        answer = await submit(
            anon, "/ui/login", "/ui/login", {"auth": "ivan", "password": PASSWORD, "next": target}
        )
        assert answer.headers["location"] == "/ui/projects"


async def test_an_ended_session_answers_scripts_401_and_forms_go_back_to_their_page(
    browser: Browser,
) -> None:
    client = await browser("nina")
    token = csrf_of((await client.get("/ui/projects")).text)
    await client.post("/ui/logout", data={"csrf_token": token})
    # The pages' scripts reload on 401 and so reach the login page; a redirect they would
    # follow silently and put the login form where the live part was.
    live = await client.get("/ui/pipelines/x/live", headers={"X-Blockpost-Script": "1"})
    assert live.status_code == 401
    posted = await client.post(
        "/ui/projects/web/run",
        data={"csrf_token": token},
        headers={"Referer": "http://test/ui/projects/web?branch=main"},
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/ui/login?next=%2Fui%2Fprojects%2Fweb%3Fbranch%3Dmain"


async def test_a_page_number_past_any_list_is_a_clear_400_page(browser: Browser) -> None:
    client = await browser("olga")
    for page in ("/ui/projects", "/ui/projects/x", "/ui/secrets", "/ui/deployment_targets"):
        for number in ("0", "99999999999999999999", "x"):
            answer = await client.get(f"{page}?page_number={number}")
            assert answer.status_code == 400, (page, number)
            assert "page_number" in answer.text
            assert answer.headers["content-type"].startswith("text/html")


async def test_bad_bytes_in_a_page_url_get_an_error_page(browser: Browser) -> None:
    client = await browser("pete")
    answer = await client.get("/ui/pipelines/%00")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")


async def test_logging_out_ends_the_session(browser: Browser) -> None:
    client = await browser("judy")
    answer = await submit(client, "/ui/projects", "/ui/logout", {})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"
    assert (await client.get("/ui/projects")).status_code == 303


async def test_pages_carry_a_strict_content_security_policy(browser: Browser) -> None:
    client = await browser("kim")
    page = await client.get("/ui/projects")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text
    assert " style=" not in page.text
    assert (await client.get("/ui/static/app.js")).status_code == 200


async def test_errors_are_pages_for_browsers_and_json_for_the_api(browser: Browser) -> None:
    client = await browser("leo")
    missing = await client.get("/ui/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Not found" in missing.text
    api = await client.get("/api/v1alpha/projects/nope")
    assert api.status_code == 404
    assert api.json() == {"message": api.json()["message"]}


async def test_the_projects_page_shows_only_projects_the_caller_may_see(
    browser: Browser, alice: httpx.AsyncClient
) -> None:
    created = await alice.post(
        "/api/v1alpha/projects",
        json={
            "metadata": {"name": "alices-secret"},
            "spec": {"repository": {"url": "https://example.com/a.git"}},
        },
    )
    assert created.status_code == 200, created.text
    mallory = await browser("mallory")
    page = await mallory.get("/ui/projects")
    assert "alices-secret" not in page.text
    assert (await mallory.get("/ui/projects/alices-secret")).status_code == 404
