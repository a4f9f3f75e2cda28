"""Which forge and repository a project's statuses go to, and each provider's endpoint."""

from __future__ import annotations

import pytest

from blockpost.commit_status.forges import ApiRoots, Forge, Provider, forge_of

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("integration", "url", "expected"),
    [
        ("github_token", "https://github.com/acme/widgets.git", ("github", "acme/widgets")),
        ("github_app", "git@github.com:acme/widgets.git", ("github", "acme/widgets")),
        ("github_token", "ssh://git@ghe.example.com:2222/acme/widgets", ("github", "acme/widgets")),
        ("gitlab", "https://gitlab.com/group/sub/widgets.git", ("gitlab", "group/sub/widgets")),
        ("gitlab", "git@gitlab.example.com:group/widgets.git", ("gitlab", "group/widgets")),
        ("gitea", "https://code.example.com/gitea/acme/widgets", ("gitea", "acme/widgets")),
        ("bitbucket", "https://ada@bitbucket.org/team/widgets.git", ("bitbucket", "team/widgets")),
        ("github_token", "/srv/git/acme/widgets", ("github", "acme/widgets")),
        ("git", "https://github.com/acme/widgets.git", None),
        ("github_token", "https://github.com/acme", None),
    ],
)
def test_the_forge_comes_from_the_integration_and_the_repository_url(
    integration: str, url: str, expected: tuple[str, str] | None
) -> None:
    forge = forge_of(integration, url)
    assert (forge and (forge.provider.value, forge.path)) == expected


@pytest.mark.parametrize(
    ("forge", "endpoint"),
    [
        (
            Forge(Provider.GITHUB, "acme/widgets"),
            f"https://ghe.example.com/api/v3/repos/acme/widgets/statuses/{SHA}",
        ),
        (
            Forge(Provider.GITLAB, "group/sub/widgets"),
            f"https://gitlab.com/api/v4/projects/group%2Fsub%2Fwidgets/statuses/{SHA}",
        ),
        (
            Forge(Provider.GITEA, "acme/widgets"),
            f"https://code.example.com/api/v1/repos/acme/widgets/statuses/{SHA}",
        ),
        (
            Forge(Provider.BITBUCKET, "team/widgets"),
            f"https://api.bitbucket.org/2.0/repositories/team/widgets/commit/{SHA}/statuses/build",
        ),
    ],
)
def test_each_provider_has_its_status_route_under_its_api_root(forge: Forge, endpoint: str) -> None:
    roots = ApiRoots(
        github="https://ghe.example.com/api/v3/", gitea="https://code.example.com/api/v1"
    )
    assert forge.endpoint(roots, SHA) == endpoint


def test_gitea_without_an_api_root_names_the_setting() -> None:
    with pytest.raises(ValueError, match="BLOCKPOST_GITEA_API_URL is not set"):
        Forge(Provider.GITEA, "acme/widgets").endpoint(ApiRoots(), SHA)
