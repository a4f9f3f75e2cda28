"""change_in on a real repository: default_range and branch_range choose the commits
compared, a promotion's change_in ignores the pipeline file, label rules of
auto_promote_on match the branch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_hold_seconds": 0.0})


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, pipeline_yaml(block("Build", "compile")))
    yield made
    await made.close()


SHA = "$SEMAPHORE_GIT_SHA"


def gated(job: str, condition: str) -> str:
    """A block of one job, run when the condition holds."""
    return block(job.title(), job, extra=f'    run:\n      when: "{condition}"\n')


def commit_pipeline(rig: EngineRig, *blocks: str, head: str = "", tail: str = "") -> None:
    rig.repo.commit({".semaphore/semaphore.yml": pipeline_yaml(*blocks, head=head) + tail})


async def test_default_range_chooses_the_commits_compared_on_the_default_branch(
    rig: EngineRig,
) -> None:
    commit_pipeline(
        rig,
        gated("lib_own", "change_in('/lib')"),
        gated("app_own", "change_in('/app')"),
        gated("app_range", "change_in('/app', {default_range: 'HEAD~2..HEAD'})"),
        gated("lib_before", "change_in('/lib', {default_range: 'HEAD~2..HEAD~1'})"),
    )
    rig.repo.commit({"app/a.txt": "a"}, "app")
    rig.repo.commit({"lib/b.txt": "b"}, "lib")
    await rig.run()
    # by default the default branch compares the commit with its parent
    assert sorted(await rig.run_jobs()) == ["app_range", "lib_own"]


async def test_branch_range_chooses_the_commits_compared_on_other_branches(
    rig: EngineRig,
) -> None:
    commit_pipeline(
        rig,
        gated("lib_default", "change_in('/lib')"),
        gated("docs_default", "change_in('/docs')"),
        gated("lib_last", f"change_in('/lib', {{branch_range: '{SHA}^...{SHA}'}})"),
        gated("web_since_dev", f"change_in('/web', {{branch_range: 'dev..{SHA}'}})"),
        gated("lib_since_dev", f"change_in('/lib', {{branch_range: 'dev..{SHA}'}})"),
    )
    rig.repo.commit({"docs/x.md": "x"}, "docs on master, before the branch")
    rig.repo.checkout("feature", new=True)
    rig.repo.commit({"lib/a.py": "a"}, "lib")
    rig.repo.git("branch", "dev")
    rig.repo.commit({"web/b.js": "b"}, "web")
    await rig.run("refs/heads/feature")
    # by default: everything since the branch left master (lib and web, not docs)
    assert sorted(await rig.run_jobs()) == ["lib_default", "web_since_dev"]


async def test_a_range_naming_an_unknown_branch_fails_the_pipeline(rig: EngineRig) -> None:
    commit_pipeline(
        rig,
        gated("lib", f"change_in('/lib', {{branch_range: 'nosuch...{SHA}'}})"),
    )
    rig.repo.checkout("feature", new=True)
    rig.repo.commit({"lib/a.py": "a"}, "lib")
    ppl = (await rig.run("refs/heads/feature"))["pipeline_id"]
    assert await rig.run_jobs() == []
    assert await rig.state(ppl) == ("done", "failed", "malformed")
    body = await rig.pipeline(ppl)
    assert "unknown git reference 'nosuch'" in body["pipeline"]["error_description"]


def promotion(name: str, rule: str) -> str:
    return f"  - name: {name}\n    pipeline_file: staging.yml\n{rule}"


def auto(name: str, condition: str) -> str:
    return promotion(name, f'    auto_promote:\n      when: "{condition}"\n')


def on_passed(name: str, key: str, values: str) -> str:
    """The old form, auto_promote_on."""
    return promotion(
        name, f"    auto_promote_on:\n      - result: passed\n        {key}: {values}\n"
    )


async def test_promotions_ignore_the_pipeline_file_and_match_labels_to_the_branch(
    rig: EngineRig,
) -> None:
    rig.repo.commit({".semaphore/staging.yml": pipeline_yaml(block("Stage", "stage"))})
    # the run's own commit changes nothing but the pipeline file
    commit_pipeline(
        rig,
        block("Build", "compile"),
        tail="promotions:\n"
        + auto("Ignored", "change_in('/deploy')")
        + auto("Tracked", "change_in('/deploy', {pipeline_file: 'track'})")
        + on_passed("Labelled", "labels", "[master]")
        + on_passed("Patterned", "label_patterns", "['^mas']")
        + on_passed("Other label", "labels", "[main]"),
    )
    ppl = (await rig.run())["pipeline_id"]
    assert await rig.run_jobs() == ["compile", "stage", "stage", "stage"]
    listed = await rig.api.get(f"{API}/promotions", params={"pipeline_id": ppl})
    assert sorted(p["name"] for p in listed.json()) == ["Labelled", "Patterned", "Tracked"]
