"""In a real browser: a pipeline's graph and a job's log follow a running workflow without a
reload; stopping a job; why a queued job waits; a 10 MB log scrolls and searches."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page, expect

from tests.ui.accessibility import assert_accessible
from tests.ui.conftest import API, UiRig, shoot

HEAD = """\
version: v1.0
name: {name}
agent:
  machine:
    type: {machine}
    os_image: ubuntu2004
blocks:
"""

GRAPH = (
    HEAD.format(name="Graph", machine="e1-standard-2")
    + """\
  - name: Build
    dependencies: []
    task:
      jobs:
        - name: compile
          commands:
            - printf '\\033[32mcompiling\\033[0m\\n'
            - for i in 1 2 3 4 5 6 7 8 9 10; do echo "step $i of 10"; sleep 0.5; done
  - name: Test
    dependencies: [Build]
    task:
      jobs:
        - name: unit
          commands: [echo unit]
        - name: integration
          commands: [echo integration]
  - name: Lint
    dependencies: [Build]
    task:
      jobs:
        - name: lint
          commands: [echo lint]
  - name: Deploy
    dependencies: [Test, Lint]
    task:
      jobs:
        - name: deploy
          commands: [echo deploy]
after_pipeline:
  task:
    jobs:
      - name: tidy
        commands: [echo tidy]
"""
)

SLEEPER = (
    HEAD.format(name="Sleeper", machine="e1-standard-2")
    + """\
  - name: Wait
    task:
      jobs:
        - name: sleeper
          commands:
            - echo going to sleep
            - sleep 120
"""
)

NOBODY = (
    HEAD.format(name="Nobody", machine="s1-nobody")
    + """\
  - name: Stranded
    task:
      jobs:
        - name: stranded
          commands: [echo never]
"""
)

# 200,000 lines of 52 bytes with a colour code on every 1000th: 10.4 MB, a needle halfway
BIG = (
    HEAD.format(name="Big", machine="e1-standard-2")
    + """\
  - name: Loud
    task:
      jobs:
        - name: loud
          commands:
            - >-
              seq 1 100000 | awk '{ if ($1 % 1000 == 0) printf "\\033[33m%07d\\033[0m", $1;
              else printf "%07d", $1; print " the quick brown fox jumps over the lazy dog" }'
            - echo needle-7f3a-in-the-haystack
            - >-
              seq 100001 200000 | awk '{ printf "%07d", $1;
              print " the quick brown fox jumps over the lazy dog" }'
"""
)


def run(ui: UiRig, files: dict[str, str], pipeline_file: str) -> dict[str, Any]:
    ui.repo.commit(files, f"add {pipeline_file}")
    answer = ui.api.post(
        f"{API}/plumber-workflows",
        json={
            "project_id": ui.project_id,
            "reference": "refs/heads/master",
            "pipeline_file": pipeline_file,
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def jobs_of(ui: UiRig, ppl_id: str, timeout: float = 20.0) -> dict[str, str]:
    """Job name -> id, once the pipeline's jobs exist."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = ui.api.get(f"{API}/pipelines/{ppl_id}", params={"detailed": "true"}).json()
        found = {job["name"]: job["job_id"] for b in body["blocks"] for job in b["jobs"]}
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"pipeline {ppl_id} has no jobs")


def wait_job(ui: UiRig, job_id: str, state: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ui.api.get(f"{API}/jobs/{job_id}").json()["status"]["state"] == state:
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {state}")


def test_the_graph_and_the_log_follow_a_running_pipeline_without_a_reload(
    page: Page, ui: UiRig
) -> None:
    ids = run(ui, {".semaphore/graph.yml": GRAPH}, ".semaphore/graph.yml")
    ppl = ids["pipeline_id"]
    page.goto(f"/ui/pipelines/{ppl}")
    page.evaluate("window.stillTheSamePage = true")
    graph = page.locator("figure.graph svg")
    expect(graph).to_be_visible()
    expect(graph.locator("a.node")).to_have_count(4)
    expect(graph.locator("path.edge")).to_have_count(4)
    expect(page.get_by_role("heading", name="After pipeline")).to_be_visible()
    assert_accessible(page)
    shoot(page, "pipeline-running")

    # The job page of the slow job, in a second tab: lines arrive while it runs.
    job_page = page.context.new_page()
    compile_id = jobs_of(ui, ppl)["compile"]
    job_page.goto(f"/ui/jobs/{compile_id}")
    log = job_page.locator("#log")
    expect(log).to_contain_text("step 2 of 10")
    assert "step 10 of 10" not in log.inner_text()
    expect(log.locator(".a-fg2")).to_have_text("compiling")  # green, from its ANSI code
    expect(log).to_contain_text("step 10 of 10")
    assert_accessible(job_page)
    expect(job_page.locator("#job-live .badge")).to_have_text("passed", timeout=30_000)
    expect(log.locator(".row.head", has_text="for i in")).to_contain_text("exit 0")
    shoot(job_page, "job")

    # Back on the pipeline page, never reloaded: every block turned passed.
    expect(page.locator("#pipeline-live")).to_have_attribute("data-state", "passed", timeout=60_000)
    expect(graph.locator("a.node.n-passed")).to_have_count(4)
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.locator("#pipeline-live").get_attribute("data-live") is None
    expect(page.get_by_role("button", name="Partial rebuild")).to_have_count(0)
    expect(page.get_by_role("link", name="tidy")).to_be_visible()
    shoot(page, "pipeline")
    # On a phone neither page scrolls sideways: the graph shrinks, the log scrolls in its box.
    for opened in (page, job_page):
        opened.set_viewport_size({"width": 390, "height": 844})
        width = opened.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{opened.url} scrolls sideways on a phone ({width}px)"
    shoot(page, "pipeline-phone")
    shoot(job_page, "job-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    # the graph links to its blocks' jobs
    graph.locator("a.node").first.click()
    assert "#block-" in page.url
    page.get_by_role("link", name="compile").click()
    expect(page.get_by_role("heading", name="compile", level=1)).to_be_visible()


def test_a_queued_job_says_why_it_waits_and_a_running_job_stops_from_its_page(
    page: Page, ui: UiRig
) -> None:
    ui.api.post(f"{API}/self_hosted_agent_types", json={"metadata": {"name": "s1-nobody"}})
    stranded = run(ui, {".semaphore/nobody.yml": NOBODY}, ".semaphore/nobody.yml")
    page.goto(f"/ui/pipelines/{stranded['pipeline_id']}")
    expect(page.locator(".waiting-reason")).to_have_text(
        "waiting for an agent of type s1-nobody: none is connected"
    )
    shoot(page, "pipeline-queued")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#pipeline-live")).to_have_attribute("data-state", "stopped")

    sleeping = run(ui, {".semaphore/sleeper.yml": SLEEPER}, ".semaphore/sleeper.yml")
    sleeper = jobs_of(ui, sleeping["pipeline_id"])["sleeper"]
    page.goto(f"/ui/jobs/{sleeper}")
    expect(page.locator("#log")).to_contain_text("going to sleep")
    expect(page.locator("#job-live .badge")).to_have_text("running")
    dismissed: list[str] = []
    page.once("dialog", lambda dialog: (dismissed.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Stop").click()
    assert dismissed == ["Stop this job?"]
    expect(page.locator("#job-live .badge")).to_have_text("running")
    # The live part is replaced every second; keyboard focus on Stop survives the swap.
    page.get_by_role("button", name="Stop").focus()
    page.evaluate("document.querySelector('#job-live').dataset.old = '1'")
    page.wait_for_function("() => !document.querySelector('#job-live').dataset.old")
    assert page.evaluate("document.activeElement.textContent") == "Stop"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#job-live .badge")).to_have_text("stopped", timeout=30_000)
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    described = ui.api.get(f"{API}/jobs/{sleeper}").json()
    assert described["status"]["result"] == "STOPPED"


def test_a_ten_megabyte_log_scrolls_and_searches_without_freezing_the_page(
    page: Page, ui: UiRig
) -> None:
    ids = run(ui, {".semaphore/big.yml": BIG}, ".semaphore/big.yml")
    loud = jobs_of(ui, ids["pipeline_id"])["loud"]
    wait_job(ui, loud, "FINISHED", timeout=120)
    size = len(ui.api.get(f"/jobs/{loud}/plain_logs.txt").content)
    assert size > 10_000_000
    # A heartbeat every 50 ms records the longest gap the page's main thread left it.
    page.add_init_script(
        "window.longestGap = 0; let last = performance.now();"
        "setInterval(() => { const now = performance.now();"
        " window.longestGap = Math.max(window.longestGap, now - last); last = now; }, 50);"
    )
    started = time.monotonic()
    page.goto(f"/ui/jobs/{loud}")
    log = page.locator("#log")
    expect(page.locator("#log-status")).to_contain_text("job finished", timeout=60_000)
    loaded = time.monotonic() - started
    # opened after it finished and passed: every command folded, the log in three headers
    expect(log.locator("button.fold[aria-expanded=true]")).to_have_count(0)
    assert log.locator(".row").count() < 100

    page.get_by_label("Find in log").fill("0150000 the quick")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#log-count")).to_have_text("1 of 1")
    expect(log.locator(".row.hit")).to_contain_text("0150000 the quick brown fox")
    assert log.locator(".row").count() < 200  # only the rows in view are in the page
    page.get_by_label("Find in log").fill("needle-7f3a")
    page.keyboard.press("Enter")
    expect(page.locator("#log-count")).to_have_text("1 of 1")
    expect(log.locator(".row.hit mark")).to_have_text("needle-7f3a")

    # Scrolling from top to bottom: each position shows its lines at once.
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        page.evaluate(
            "f => { const l = document.getElementById('log');"
            " l.scrollTop = f * (l.scrollHeight - l.clientHeight); }",
            fraction,
        )
        page.wait_for_timeout(50)
        assert log.locator(".row").count() > 10
    # the yellow line numbers of the first command
    page.get_by_label("Find in log").fill("0001000 the quick")
    page.keyboard.press("Enter")
    expect(log.locator(".row.hit")).to_be_visible()
    longest = page.evaluate("window.longestGap")
    assert longest < 500, f"the page froze for {longest:.0f} ms while loading {size} bytes"
    shoot(page, "job-10mb")
    print(f"10 MB log: loaded in {loaded:.1f} s, longest main-thread gap {longest:.0f} ms")
