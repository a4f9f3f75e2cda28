"""A job's environment, in the order Semaphore's job request factory (zebra) builds it.

The agent exports the list in order, so of two equal names the later wins:

1. the job's variables (TERM, CI, SEMAPHORE, project, job, agent machine), then
   SEMAPHORE_ORGANIZATION_URL and SEMAPHORE_ARTIFACT_TOKEN, known only when an agent
   fetches the job;
2. the repository's SEMAPHORE_GIT_* variables (and the GIT_SSH_COMMAND that uses the
   project's deploy key, git/credentials.py);
3. the secrets' variables (a deployment target's first);
4. the job spec's env_vars: for a pipeline job the workflow and pipeline variables, the
   parameters, then the YAML's global, block and job env_vars (matrix and parallelism
   last); for a standalone job the ones its creator gave.

So a YAML env var overrides a secret's variable of the same name, and both override the
SEMAPHORE_* variables of 1 and 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from blockpost.git.snapshots import parse_snapshot_ref
from blockpost.timefmt import epoch_str

Env = list[tuple[str, str]]
PROVIDER = "git"  # Semaphore's name for a repository of no particular forge
DEFAULT_BRANCH = "master"  # Semaphore's when the repository records none


def job_env(
    *,
    job_id: str,
    name: str,
    job_type: str,
    created_at: datetime,
    project_id: str,
    project_name: str,
    machine_type: str,
    os_image: str,
    containers: bool,
) -> Env:
    """The variables every job gets, pipeline job (`pipeline_job`) or standalone
    (`project_debug_job`, Semaphore's type for a job created by the jobs API)."""
    return [
        ("TERM", "xterm"),
        ("CI", "true"),
        ("SEMAPHORE", "true"),
        ("SEMAPHORE_PROJECT_NAME", project_name),
        ("SEMAPHORE_PROJECT_ID", project_id),
        ("SEMAPHORE_JOB_NAME", name),
        ("SEMAPHORE_JOB_ID", job_id),
        ("SEMAPHORE_JOB_CREATION_TIME", epoch_str(created_at)),
        ("SEMAPHORE_JOB_TYPE", job_type),
        ("SEMAPHORE_AGENT_MACHINE_TYPE", machine_type),
        ("SEMAPHORE_AGENT_MACHINE_OS_IMAGE", os_image),
        ("SEMAPHORE_AGENT_MACHINE_ENVIRONMENT_TYPE", "container" if containers else "VM"),
    ]


def repo_names(url: str) -> tuple[str, str]:
    """(name, owner/name) from a clone URL or path."""
    path = url.rstrip("/").replace(":", "/")
    parts = [part for part in path.split("/") if part]
    name = parts[-1].removesuffix(".git") if parts else "repository"
    owner = parts[-2] if len(parts) > 1 else ""
    return name, f"{owner}/{name}" if owner else name


def repository_env(url: str) -> Env:
    """The SEMAPHORE_GIT_* variables that name the repository, first for every job."""
    name, _ = repo_names(url)
    return [
        ("SEMAPHORE_GIT_PROVIDER", PROVIDER),
        ("SEMAPHORE_GIT_URL", url),
        ("SEMAPHORE_GIT_REPO_NAME", name),
        ("SEMAPHORE_GIT_DIR", name),
    ]


def project_git_env(url: str) -> Env:
    """A standalone job's: the repository at the head of its default branch."""
    return [
        *repository_env(url),
        ("SEMAPHORE_GIT_BRANCH", DEFAULT_BRANCH),
        ("SEMAPHORE_GIT_WORKING_BRANCH", DEFAULT_BRANCH),
        ("SEMAPHORE_GIT_SHA", "HEAD"),
    ]


def _pairs(items: Iterable[Mapping[str, str]]) -> Env:
    return [(item["name"], item["value"]) for item in items]


def request_env(
    spec: Mapping[str, Any],
    secrets: Iterable[Mapping[str, str]],
    organization_url: str,
    artifact_token: str,
    repository_access: Env,
) -> Env:
    """The whole list, from a stored job spec (`JobSpec.as_json`) and its opened secrets.
    The artifact token (artifacts/tokens.py) is made when the agent fetches the job, so it
    is never stored with the spec."""
    return [
        *_pairs(spec.get("job_env_vars", [])),
        ("SEMAPHORE_ORGANIZATION_URL", organization_url),
        ("SEMAPHORE_ARTIFACT_TOKEN", artifact_token),
        *_pairs(spec.get("git_env_vars", [])),
        *repository_access,
        *_pairs(secrets),
        *_pairs(spec.get("env_vars", [])),
    ]


def snapshot_git_env(
    git_env: list[dict[str, str]], clone_url: Callable[[str], str]
) -> list[dict[str, str]]:
    """A snapshot workflow's job clones the snapshot from the server, whose git endpoint
    serves it as the one branch named by its label: SEMAPHORE_GIT_URL is that endpoint
    (`clone_url(snapshot id)`), SEMAPHORE_GIT_REF the label's branch, and
    SEMAPHORE_SNAPSHOT_ID follows, as Semaphore sets it. Other jobs' are unchanged."""
    ref = next((env["value"] for env in git_env if env["name"] == "SEMAPHORE_GIT_REF"), "")
    parsed = parse_snapshot_ref(ref)
    if parsed is None:
        return git_env
    snapshot_id, label = parsed
    changed = {
        "SEMAPHORE_GIT_URL": clone_url(snapshot_id),
        "SEMAPHORE_GIT_REF": f"refs/heads/{label}",
    }
    out = [{"name": e["name"], "value": changed.get(e["name"], e["value"])} for e in git_env]
    return [*out, {"name": "SEMAPHORE_SNAPSHOT_ID", "value": snapshot_id}]
