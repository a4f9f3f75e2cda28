"""Which transports a project's mirror may fetch over."""

from __future__ import annotations

from pathlib import Path

import pytest

from blockpost.crypto import Sealer
from blockpost.db.models import Project
from blockpost.errors import Unavailable
from blockpost.git.mirror import Mirrors, Repository
from blockpost.git.refs import parse_reference
from tests.support.gitrepo import GitRepo


def _mirror(root: Path, project_id: str, url: str, *, allow_local: bool) -> Repository:
    mirrors = Mirrors(root, 30, Sealer("test-key"), allow_local=allow_local)
    return mirrors.for_project(Project(id=project_id, repository_url=url))


@pytest.fixture
def origin(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "origin")
    repo.commit({"README": "hello\n"})
    return repo


def test_a_local_repository_is_fetched_when_the_server_allows_it(
    origin: GitRepo, tmp_path: Path
) -> None:
    head = origin.git("rev-parse", "HEAD")
    repo = _mirror(tmp_path / "mirrors", "p1", origin.url, allow_local=True)
    repo.fetch()
    assert repo.resolve(parse_reference("refs/heads/master")) == head


def test_git_refuses_a_saved_local_repository_once_the_server_no_longer_allows_it(
    origin: GitRepo, tmp_path: Path
) -> None:
    for url in (origin.url, f"file://{origin.url}"):
        repo = _mirror(tmp_path / "mirrors", "p2", url, allow_local=False)
        with pytest.raises(Unavailable, match="cannot fetch"):
            repo.fetch()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/nonexistent/repo", "'/nonexistent/repo' does not appear to be a git repository"),
        ("http://127.0.0.1:1/team/app.git", "Failed to connect to 127.0.0.1 port 1"),
    ],
)
def test_an_unreachable_repository_is_one_sentence_naming_the_field_and_gits_reason(
    tmp_path: Path, url: str, reason: str
) -> None:
    repo = _mirror(tmp_path / "mirrors", "p3", url, allow_local=True)
    with pytest.raises(Unavailable) as refused:
        repo.fetch()
    assert refused.value.message.startswith(f"spec.repository.url: cannot fetch {url}: {reason}")
    assert "fatal" not in refused.value.message
    assert "access rights" not in refused.value.message
