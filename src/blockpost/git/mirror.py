"""One cached bare mirror per project, fetched on demand; every call is blocking.

Callers in async code run these in a thread (`asyncio.to_thread`). A file lock per
mirror serialises fetches, across threads and across server processes sharing a data
dir; reads need no lock because git updates refs atomically.

A run of a known commit needs no git process: refs are read from the mirror's files, and
what never changes once known (a commit's parents and fields, a file's text at a commit)
is remembered by the process. Each git process cost a few milliseconds of a
workflow's start, and a run spent five or six of them.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from blockpost.crypto import Sealer
from blockpost.errors import InvalidInput, Unavailable
from blockpost.git import credentials
from blockpost.git.credentials import NO_ACCESS, RepoAccess, WithCredentials
from blockpost.git.refs import GitRef
from blockpost.lru import Lru

_SHA = re.compile(r"^[0-9a-f]{4,40}$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
# Never a prompt: a fetch that needs a credential it was not given fails at once (a
# fetch's ssh command and credential helper are the project's: credentials.fetch_env).
_GIT_SETTINGS = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/false",
    "LC_ALL": "C",
}
FETCH_REFSPECS = (
    "+refs/heads/*:refs/heads/*",
    "+refs/tags/*:refs/tags/*",
    "+refs/pull/*:refs/pull/*",
    # GitLab keeps a merge request's commits there: they run as refs/pull/IID (hooks/gitlab.py)
    "+refs/merge-requests/*/head:refs/pull/*/head",
)


REMOTE_PROTOCOLS = "https:http:ssh:git"
_COMMIT_FORMAT = "--format=%H%x00%P%x00%an%x00%cn%x00%B"
# Larger files are read again each time rather than kept (a pipeline file is a few kB).
_KEEP_FILE_CHARS = 1 << 20


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    committer: str
    message: str


# Facts that a sha fixes for good, by mirror and URL: a commit, a file's text at a commit.
_COMMITS: Lru[Commit] = Lru(4096)
_FILES: Lru[str] = Lru(256)


class Repository:
    def __init__(
        self,
        path: Path,
        url: str,
        timeout: float,
        allow_local: bool = False,
        access: RepoAccess = NO_ACCESS,
    ) -> None:
        self.path = path
        self.url = url
        self.timeout = timeout
        self.access = access
        self.known_hosts = known_hosts_of(path)
        # git itself refuses other transports too: a project saved while local paths were
        # allowed cannot be fetched once they are not.
        protocols = REMOTE_PROTOCOLS + (":file" if allow_local else "")
        self._env = {**os.environ, **_GIT_SETTINGS, "GIT_ALLOW_PROTOCOL": protocols}

    def _git(
        self,
        *args: str,
        timeout: float | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> str:
        try:
            done = subprocess.run(
                ["git", "--git-dir", str(self.path), *args],
                capture_output=True,
                env={**self._env, **(env or {})},
                timeout=timeout or self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(
                f"git {args[0]} on {self.url} took longer than {timeout or self.timeout:g} s"
            ) from None
        if check and done.returncode != 0:
            raise _GitFailed(done.stderr.decode(errors="replace").strip())
        return done.stdout.decode(errors="replace") if done.returncode == 0 else ""

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def locked_created(self) -> Iterator[None]:
        """Holds the mirror's lock, creating the (empty) mirror first if there is none."""
        with self._locked():
            if not (self.path / "HEAD").exists():
                self.path.mkdir(parents=True, exist_ok=True)
                subprocess.run(
                    ["git", "init", "--quiet", "--bare", str(self.path)],
                    check=True,
                    capture_output=True,
                    env=self._env,
                )
            yield

    def fetch(self) -> None:
        """Brings the mirror up to date with the remote (creating it the first time)."""
        with self.locked_created(), credentials.fetch_env(self.access, self.known_hosts) as env:
            try:
                self._git(
                    "fetch",
                    "--quiet",
                    "--prune",
                    "--no-tags",
                    "--",
                    self.url,
                    *FETCH_REFSPECS,
                    env=env,
                )
            except _GitFailed as exc:
                reason = credentials.refusal(str(exc), self.access, self.known_hosts)
                raise Unavailable(
                    f"spec.repository.url: cannot fetch {self.url}: {reason or _git_reason(exc)}"
                ) from None

    def _read_ref(self, name: str) -> str | None:
        """The sha a ref names, read from the mirror's files as git keeps them (a loose ref,
        else packed-refs); None when they do not say (git is then asked)."""
        if not name.startswith("refs/") or ".." in name.split("/"):
            return None
        try:
            loose = (self.path / name).read_text().strip()
        except FileNotFoundError:
            loose = ""
        except (OSError, ValueError):  # ValueError: a NUL in the name
            return None
        if loose:
            return loose if _FULL_SHA.match(loose) else None
        try:
            packed = (self.path / "packed-refs").read_text()
        except OSError:
            return None
        suffix = f" {name}"
        for line in packed.splitlines():
            if line.endswith(suffix) and _FULL_SHA.match(line[:40]):
                return line[:40]
        return None

    def _known(self, sha: str) -> Commit | None:
        found = _COMMITS.get((self.path, self.url, sha))
        # A mirror removed meanwhile (a new data dir) holds nothing: git is asked again.
        return found if found is not None and (self.path / "HEAD").exists() else None

    def _commit(self, name: str) -> Commit | None:
        """The commit a ref or sha names (a tag peeled), or None when there is none."""
        sha = name if _FULL_SHA.match(name) else self._read_ref(name)
        if sha is not None and (known := self._known(sha)) is not None:
            return known
        if name.startswith("-"):
            return None
        out = self._git("show", "-s", _COMMIT_FORMAT, f"{name}^{{commit}}", check=False)
        fields = out.split("\x00", 4)
        if len(fields) < 5 or not _FULL_SHA.match(fields[0]):
            return None
        sha, parents, author, committer, message = fields
        commit = Commit(sha, tuple(parents.split()), author, committer, message.strip())
        _COMMITS.put((self.path, self.url, sha), commit)
        return commit

    def _ref_sha(self, ref: str) -> str | None:
        commit = self._commit(ref)
        return commit.sha if commit is not None else None

    def has_commit(self, sha: str) -> bool:
        return bool(_SHA.match(sha)) and self._ref_sha(sha) is not None

    def resolve(self, ref: GitRef, commit_sha: str | None = None) -> str:
        """The full commit sha the run uses; `commit_sha` must exist in the repository."""
        tip = next((sha for name in ref.candidates() if (sha := self._ref_sha(name))), None)
        if tip is None:
            raise InvalidInput("reference", f"{ref.reference} not found in {self.url}")
        if not commit_sha:
            return tip
        if not _SHA.match(commit_sha.lower()):
            raise InvalidInput("commit_sha", f"{commit_sha!r} is not a hexadecimal commit id")
        full = self._ref_sha(commit_sha.lower())
        if full is None:
            raise InvalidInput("commit_sha", f"commit {commit_sha} not found in {self.url}")
        return full

    def ref_exists(self, ref: GitRef) -> bool:
        return any(self._ref_sha(name) for name in ref.candidates())

    def read(self, sha: str, path: str) -> str:
        """The file's text at the commit; FileNotFoundError when it is not there."""
        key = (self.path, self.url, sha, path)
        if _FULL_SHA.match(sha) and (text := _FILES.get(key)) is not None:
            return text
        try:
            text = self._git("show", f"{sha}:{path}")
        except _GitFailed:
            raise FileNotFoundError(2, f"{path} not found at commit {sha[:12]}", path) from None
        if _FULL_SHA.match(sha) and len(text) <= _KEEP_FILE_CHARS:
            _FILES.put(key, text)
        return text

    def changed_files(self, base: str, head: str) -> list[str]:
        out = self._git("diff", "--name-only", "--no-renames", "-z", base, head)
        return [name for name in out.split("\0") if name]

    def merge_base(self, first: str, second: str) -> str | None:
        return self._git("merge-base", first, second, check=False).strip() or None

    def parent(self, sha: str) -> str | None:
        commit = self._commit(sha)
        return commit.parents[0] if commit is not None and commit.parents else None

    def commit_of(self, ref: str) -> str | None:
        """The commit a ref names, or None when there is no such ref."""
        return self._ref_sha(ref)

    def parents(self, sha: str) -> list[str]:
        commit = self._commit(sha)
        if commit is None:
            raise _GitFailed(f"no commit {sha}")
        return list(commit.parents)

    def branches_at(self, sha: str) -> list[str]:
        """The branches whose tip is the commit, by name."""
        out = self._git(
            "for-each-ref", "--points-at", sha, "--format=%(refname:strip=2)", "refs/heads/"
        )
        return [name for name in out.split("\n") if name]

    def heads(self) -> dict[str, str]:
        """Every branch and tag in the mirror and its commit, {ref: sha} (tags peeled)."""
        out = self._git(
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)",
            "refs/heads/",
            "refs/tags/",
        )
        found = {}
        for line in out.splitlines():
            ref, sha, peeled = ([*line.split("\x00"), "", ""])[:3]
            found[ref] = peeled or sha
        return found

    def commit_fields(self, sha: str) -> dict[str, str]:
        commit = self._commit(sha)
        if commit is None:
            raise _GitFailed(f"no commit {sha}")
        return {"author": commit.author, "committer": commit.committer, "message": commit.message}


def known_hosts_of(mirror: Path) -> Path:
    """The host keys a mirror's fetches trust, beside it: recorded by the first fetch over
    ssh, or given through the API (credentials.py)."""
    return mirror.with_suffix(".known_hosts")


class _GitFailed(Exception):
    pass


def _git_reason(exc: Exception) -> str:
    """git's first fatal line, without its prefixes: its closing lines are advice ("Please
    make sure you have the correct access rights and the repository exists.")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    fatal = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
    reason = (fatal or (lines[-1] if lines else "git failed")).split(":", 1)[-1].strip()
    return re.sub(r"^unable to access '[^']*': ", "", reason)


class Mirrors:
    """Where the mirrors live: DATA_DIR/repositories/<project id>.git."""

    def __init__(
        self, root: Path, timeout: float, sealer: Sealer, allow_local: bool = False
    ) -> None:
        self.root = root
        self.timeout = timeout
        self.sealer = sealer
        self.allow_local = allow_local

    def for_project(self, project: WithCredentials) -> Repository:
        """The project's mirror, fetched with the project's credentials."""
        path = self.root / f"{project.id}.git"
        access = RepoAccess.of(project, self.sealer)
        return Repository(path, project.repository_url, self.timeout, self.allow_local, access)

    def known_hosts(self, project_id: str) -> Path:
        return known_hosts_of(self.root / f"{project_id}.git")

    def job_access(self, project: WithCredentials) -> credentials.JobAccess:
        """What a job of the project gets to check the repository out over ssh."""
        access = RepoAccess.of(project, self.sealer)
        known = credentials.read_known_hosts(self.known_hosts(project.id))
        return credentials.job_access(access, project.repository_url, known)


def sync_ref(repo: Repository, ref: GitRef, commit_sha: str | None) -> str:
    """Resolves the run's commit, fetching first unless the mirror already has both (a
    snapshot is only ever in the mirror: nothing to fetch)."""
    if ref.is_snapshot:
        return repo.resolve(ref, commit_sha)
    if not (commit_sha and repo.has_commit(commit_sha.lower()) and repo.ref_exists(ref)):
        repo.fetch()
    return repo.resolve(ref, commit_sha)
