"""A run of a known commit needs no git process: refs from the mirror's files, commits and
files remembered by sha, a pipeline file parsed once per blob."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blockpost.crypto import Sealer
from blockpost.db.models import Project
from blockpost.engine import plan
from blockpost.git import mirror
from blockpost.git.mirror import Mirrors, Repository, sync_ref
from blockpost.git.refs import parse_reference
from tests.support.gitrepo import GitRepo

MASTER = parse_reference("refs/heads/master")
PIPELINE = """\
version: v1.0
name: Reuse
agent:
  machine:
    type: e1-standard-2
blocks:
  - name: One
    task:
      jobs:
        - name: one
          commands:
            - echo {word}
"""


@pytest.fixture
def origin(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "origin")
    repo.commit({"README": "hello\n"}, "first")
    return repo


@pytest.fixture
def gits(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The git commands the mirror runs from here on (they still run)."""
    seen: list[list[str]] = []
    run: Callable[..., Any] = subprocess.run

    def counted(args: list[str], *rest: Any, **options: Any) -> Any:
        seen.append(list(args))
        return run(args, *rest, **options)

    monkeypatch.setattr(mirror.subprocess, "run", counted)
    return seen


def _mirror(root: Path, url: str, project_id: str = "p1") -> Repository:
    mirrors = Mirrors(root, 30, Sealer("test-key"), allow_local=True)
    return mirrors.for_project(Project(id=project_id, repository_url=url))


def test_a_known_commit_is_resolved_and_described_without_git(
    origin: GitRepo, tmp_path: Path, gits: list[list[str]]
) -> None:
    second = origin.commit({"README": "again\n"}, "second\n\nbody")
    first = origin.git("rev-parse", "HEAD~1")
    repo = _mirror(tmp_path / "mirrors", origin.url)
    assert sync_ref(repo, MASTER, None) == second
    assert repo.commit_fields(second)["message"] == "second\n\nbody"
    gits.clear()

    again = _mirror(tmp_path / "mirrors", origin.url)  # a new object, as each request makes
    assert sync_ref(again, MASTER, second) == second
    assert again.commit_fields(second) == {
        "author": "Ada Tester",
        "committer": "Ada Tester",
        "message": "second\n\nbody",
    }
    assert again.parent(second) == first
    assert again.parents(second) == [first]
    assert gits == []


def test_a_branch_that_moved_is_fetched_and_a_short_sha_still_asks_git(
    origin: GitRepo, tmp_path: Path, gits: list[list[str]]
) -> None:
    repo = _mirror(tmp_path / "mirrors", origin.url)
    old = sync_ref(repo, MASTER, None)
    new = origin.commit({"README": "moved\n"}, "moved")
    assert sync_ref(repo, MASTER, None) == new  # no commit given: always fetched
    assert sync_ref(repo, MASTER, new) == new
    gits.clear()
    assert repo.resolve(MASTER, old[:8]) == old
    assert gits, "a short sha is looked up by git"
    assert repo.parent(old) is None
    assert not repo.has_commit("0" * 40)


def test_refs_are_read_from_packed_refs_too(
    origin: GitRepo, tmp_path: Path, gits: list[list[str]]
) -> None:
    origin.tag("v1")
    repo = _mirror(tmp_path / "mirrors", origin.url)
    head = sync_ref(repo, MASTER, None)
    subprocess.run(["git", "--git-dir", str(repo.path), "pack-refs", "--all"], check=True)
    assert not (repo.path / "refs/heads/master").exists()
    gits.clear()
    assert repo.resolve(MASTER) == head
    assert repo.resolve(parse_reference("refs/tags/v1")) == head
    assert gits == []


def test_a_removed_mirror_is_fetched_again(origin: GitRepo, tmp_path: Path) -> None:
    repo = _mirror(tmp_path / "mirrors", origin.url)
    head = sync_ref(repo, MASTER, None)
    subprocess.run(["rm", "-rf", str(repo.path)], check=True)
    again = _mirror(tmp_path / "mirrors", origin.url)
    assert not again.has_commit(head)
    assert sync_ref(again, MASTER, head) == head


def test_what_is_known_of_a_repository_is_not_taken_for_another_at_the_same_mirror(
    origin: GitRepo, tmp_path: Path, gits: list[list[str]]
) -> None:
    head = sync_ref(_mirror(tmp_path / "mirrors", origin.url), MASTER, None)
    gits.clear()
    other = GitRepo(tmp_path / "other")
    moved = _mirror(tmp_path / "mirrors", other.url)  # the project's URL was changed
    assert moved.commit_fields(head)["message"] == "first"  # still among the mirror's objects
    assert gits, "git was asked"


def test_a_pipeline_file_is_parsed_once_per_blob(
    origin: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[str] = []
    parse = plan.parse_pipeline

    def counted(text: str, **options: Any) -> Any:
        parses.append(text)
        return parse(text, **options)

    monkeypatch.setattr(plan, "parse_pipeline", counted)
    path = ".semaphore/semaphore.yml"
    first = origin.commit({path: PIPELINE.format(word="reuse-a")}, "a")
    second = origin.commit({"README": "unrelated\n"}, "same pipeline file")
    repo = _mirror(tmp_path / "mirrors", origin.url)
    sync_ref(repo, MASTER, None)
    a = plan._parsed(repo, first, path)
    assert plan._parsed(repo, second, path) is a
    assert parses == [PIPELINE.format(word="reuse-a")]
    assert plan.blob_sha(parses[0]) == origin.git("rev-parse", f"{first}:{path}")


def test_a_pipeline_that_reads_other_files_is_parsed_each_time(
    origin: GitRepo, tmp_path: Path
) -> None:
    path = ".semaphore/semaphore.yml"
    text = PIPELINE.replace("          commands:\n            - echo {word}\n", "").replace(
        "        - name: one\n", "        - name: one\n          commands_file: steps.sh\n"
    )
    first = origin.commit({path: text, ".semaphore/steps.sh": "echo one\n"}, "one")
    second = origin.commit({".semaphore/steps.sh": "echo two\n"}, "two")
    repo = _mirror(tmp_path / "mirrors", origin.url)
    sync_ref(repo, MASTER, None)
    commands = [
        plan._parsed(repo, sha, path).blocks[0].task.jobs[0].commands for sha in (first, second)
    ]
    assert commands == [("echo one",), ("echo two",)]
