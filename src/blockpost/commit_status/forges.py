"""Where each provider takes a commit status, in what words, and with which credentials."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

from blockpost.dispatch.jobenv import repo_names


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"  # Forgejo too: it keeps Gitea's API
    BITBUCKET = "bitbucket"


class CommitState(StrEnum):
    """A status as Semaphore's notifier decides it, in GitHub's words."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"  # stopped or canceled: no verdict


PROVIDERS = {
    "github_token": Provider.GITHUB,
    "github_app": Provider.GITHUB,
    "gitlab": Provider.GITLAB,
    "gitea": Provider.GITEA,
    "bitbucket": Provider.BITBUCKET,
}
SETTINGS = {
    Provider.GITHUB: "BLOCKPOST_GITHUB_API_URL",
    Provider.GITLAB: "BLOCKPOST_GITLAB_API_URL",
    Provider.GITEA: "BLOCKPOST_GITEA_API_URL",
    Provider.BITBUCKET: "BLOCKPOST_BITBUCKET_API_URL",
}
DESCRIPTIONS = {
    CommitState.PENDING: "The build is pending on blockpost.",
    CommitState.SUCCESS: "The build passed on blockpost.",
    CommitState.FAILURE: "The build failed on blockpost.",
    CommitState.ERROR: "The build was canceled on blockpost.",
}
_GITLAB_STATES = {
    CommitState.PENDING: "pending",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failed",
    CommitState.ERROR: "canceled",
}
_BITBUCKET_STATES = {
    CommitState.PENDING: "INPROGRESS",
    CommitState.SUCCESS: "SUCCESSFUL",
    CommitState.FAILURE: "FAILED",
    CommitState.ERROR: "STOPPED",
}
BITBUCKET_KEY_MAX = 40  # Bitbucket refuses longer keys; Semaphore cuts the context there
_SCP_LIKE = re.compile(r"^(?:[^@/:\s]+@)?(?P<host>[^/:\s]+):(?P<path>.+)$")


@dataclass(frozen=True)
class ApiRoots:
    """Each provider's API root (settings); "" where none is configured."""

    github: str = "https://api.github.com"
    gitlab: str = "https://gitlab.com/api/v4"
    gitea: str = ""
    bitbucket: str = "https://api.bitbucket.org/2.0"

    def of(self, provider: Provider) -> str:
        return str(getattr(self, provider.value)).rstrip("/")


@dataclass(frozen=True)
class Forge:
    """A repository on a provider: `path` is owner/name (GitLab: the whole namespace)."""

    provider: Provider
    path: str

    def endpoint(self, roots: ApiRoots, sha: str) -> str:
        root = roots.of(self.provider)
        if not root:
            raise ValueError(f"{SETTINGS[self.provider]} is not set")
        owner, _, name = self.path.rpartition("/")
        segments = f"{quote(owner, safe='')}/{quote(name, safe='')}"
        if self.provider in (Provider.GITHUB, Provider.GITEA):
            return f"{root}/repos/{segments}/statuses/{sha}"
        if self.provider is Provider.GITLAB:
            return f"{root}/projects/{quote(self.path, safe='')}/statuses/{sha}"
        return f"{root}/repositories/{segments}/commit/{sha}/statuses/build"

    def body(self, state: CommitState, context: str, target_url: str) -> dict[str, Any]:
        description = DESCRIPTIONS[state]
        if self.provider is Provider.GITLAB:
            return {
                "state": _GITLAB_STATES[state],
                "name": context,
                "target_url": target_url,
                "description": description,
            }
        if self.provider is Provider.BITBUCKET:
            return {
                "key": context[:BITBUCKET_KEY_MAX],
                "state": _BITBUCKET_STATES[state],
                "name": context,
                "url": target_url,
                "description": description,
            }
        return {
            "state": state.value,
            "context": context,
            "target_url": target_url,
            "description": description,
        }

    def headers(self, token: str) -> dict[str, str]:
        """The token as each provider reads it. Bitbucket's `user:app password` (or
        `email:API token`) goes as Basic credentials, an access token as a Bearer one."""
        if self.provider is Provider.GITEA:
            return {"Authorization": f"token {token}"}
        if self.provider is Provider.BITBUCKET and ":" in token:
            return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
        return {"Authorization": f"Bearer {token}"}


def _repository_path(url: str) -> str:
    """The repository's path on its host: everything after the host for a URL or an
    scp-like address, the last two directories for a path on this machine."""
    if "://" in url and not url.startswith("file://"):
        path = urlsplit(url).path
    elif (match := _SCP_LIKE.match(url)) and not url.startswith("/"):
        path = match.group("path")
    else:
        return repo_names(url)[1]
    return path.strip("/").removesuffix(".git").strip("/")


def forge_of(integration_type: str, url: str) -> Forge | None:
    """The forge a project's statuses go to; None when it names none (integration_type
    git) or its URL names no owner and repository."""
    provider = PROVIDERS.get(integration_type)
    if provider is None:
        return None
    path = _repository_path(url)
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2:
        return None
    if provider is not Provider.GITLAB:
        parts = parts[-2:]
    return Forge(provider, "/".join(parts))
