"""Which transports a project's mirror may fetch over."""

from __future__ import annotations

from pathlib import Path

import pytest

from blockpost.errors import Unavailable
from blockpost.git.mirror import Mirrors
from blockpost.git.refs import parse_reference
from tests.support.gitrepo import GitRepo


@pytest.fixture
def origin(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "origin")
    repo.commit({"README": "hello\n"})
    return repo


def test_a_local_repository_is_fetched_when_the_server_allows_it(
    origin: GitRepo, tmp_path: Path
) -> None:
    head = origin.git("rev-parse", "HEAD")
    repo = Mirrors(tmp_path / "mirrors", 30, allow_local=True).for_project("p1", origin.url)
    repo.fetch()
    assert repo.resolve(parse_reference("refs/heads/master")) == head


def test_git_refuses_a_saved_local_repository_once_the_server_no_longer_allows_it(
    origin: GitRepo, tmp_path: Path
) -> None:
    for url in (origin.url, f"file://{origin.url}"):
        repo = Mirrors(tmp_path / "mirrors", 30, allow_local=False).for_project("p2", url)
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
    repo = Mirrors(tmp_path / "mirrors", 30, allow_local=True).for_project("p3", url)
    with pytest.raises(Unavailable) as refused:
        repo.fetch()
    assert refused.value.message.startswith(f"spec.repository.url: cannot fetch {url}: {reason}")
    assert "fatal" not in refused.value.message
    assert "access rights" not in refused.value.message
