"""Reads a run's pipeline file from git and decides what its `when` conditions say.

Blocking (git subprocesses): the engine calls `decide` in a thread.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from blockpost.db.models import Pipeline, Project, Workflow
from blockpost.git import GitRef, Repository
from blockpost.lru import Lru
from blockpost.pipeline_yaml import model
from blockpost.pipeline_yaml.change_in import ChangeIn
from blockpost.pipeline_yaml.validate import parse_pipeline
from blockpost.pipeline_yaml.when.evaluator import WhenContext, evaluate
from blockpost.pipeline_yaml.when.lexer import WhenError


@dataclass(frozen=True)
class RunFacts:
    """What is known about a pipeline run before its file is read."""

    project_id: str
    project_name: str
    repository_url: str
    workflow_id: str
    workflow_number: int
    pipeline_id: str
    reference: str
    ref_type: str  # branch | tag | pull-request
    ref_name: str
    branch_name: str
    commit_sha: str
    pipeline_file: str
    requester: str
    triggered_by: str
    rerun: bool
    created_at: datetime
    parameters: Mapping[str, str] = field(default_factory=dict)
    promoted_by: str = ""  # set when a promotion started the pipeline
    ancestors: tuple[str, ...] = ()  # the pipelines it was promoted from, first one first
    # None: every secret the file names; else only these (a forked pull request's)
    allowed_secrets: tuple[str, ...] | None = None
    # what the forge's webhook said of the pull request (hooks/events.py PullRequestFacts:
    # title, head_branch, head_repo, base_branch, ...); empty for a run the API started
    forge_pull_request: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, pipeline: Pipeline, workflow: Workflow, project: Project) -> RunFacts:
        return cls(
            project_id=project.id,
            project_name=project.name,
            repository_url=project.repository_url,
            workflow_id=workflow.id,
            workflow_number=workflow.number,
            pipeline_id=pipeline.id,
            reference=workflow.reference,
            ref_type=workflow.ref_type,
            ref_name=workflow.ref_name,
            branch_name=workflow.branch_name,
            commit_sha=workflow.commit_sha,
            pipeline_file=pipeline.yaml_file_path,
            requester=workflow.requester_name,
            triggered_by=workflow.triggered_by,
            rerun=workflow.rerun_of is not None,
            created_at=pipeline.created_at,
            parameters={**workflow.parameters, **pipeline.parameters},
            promoted_by=pipeline.promoted_by,
            ancestors=tuple(pipeline.ancestors),
            allowed_secrets=(
                None if workflow.allowed_secrets is None else tuple(workflow.allowed_secrets)
            ),
        )


@dataclass(frozen=True)
class PullRequest:
    """What the repository itself says of a pull request (it has no title, and a fork's
    branch and slug are not in it)."""

    ref: str  # the ref a clone fetches to get the run's commit
    head_sha: str
    base_branch: str
    head_branch: str  # "" when no branch of the repository points at the head
    title: str = ""  # known when a forge's webhook started the run
    head_slug: str = ""  # owner/name of the head's repository (a fork's), likewise


@dataclass(frozen=True)
class Decided:
    pipeline: model.Pipeline
    skip: tuple[bool, ...]  # per block
    block_fail_fast: tuple[str, ...]  # per block: "" | stop | cancel
    fail_fast: str
    auto_cancel: str  # "" | queued | running
    queue_key: str
    queue_parallel: bool
    commit_range: str
    commit: Mapping[str, str] = field(default_factory=dict)
    pull_request: PullRequest | None = None


def _reader(repo: Repository, sha: str, pipeline_file: str) -> Any:
    base = posixpath.dirname(pipeline_file)

    def read(name: str) -> str:
        path = name[1:] if name.startswith("/") else posixpath.join(base, name)
        path = posixpath.normpath(path)
        if path.startswith("../") or path == "..":
            raise FileNotFoundError(2, f"{name} is outside the repository", name)
        return repo.read(sha, path)

    return read


class Conditions:
    """Evaluates `when` for one run; `change_in` diffs lazily, once per commit range.

    `in_promotion`: the conditions are a promotion's, whose `change_in` ignores changes
    to the pipeline file unless told to track them."""

    def __init__(
        self,
        repo: Repository,
        facts: RunFacts,
        result: str = "",
        result_reason: str = "",
        *,
        in_promotion: bool = False,
    ) -> None:
        self.repo = repo
        self.facts = facts
        self.in_promotion = in_promotion
        self._diffs: dict[tuple[str, str], list[str]] = {}
        kind, name = facts.ref_type, facts.ref_name
        self.context = WhenContext(
            branch=name if kind == "branch" else "",
            tag=name if kind == "tag" else "",
            pull_request=name if kind == "pull-request" else "",
            result=result,
            result_reason=result_reason,
            change_in=self._change_in,
        )

    def __call__(self, condition: model.When | None, default: bool = False) -> bool:
        return default if condition is None else evaluate(condition, self.context)

    def _change_in(self, patterns: list[str], options: Mapping[str, Any]) -> bool:
        facts = self.facts
        try:
            call = ChangeIn.of(patterns, options, in_promotion=self.in_promotion)
        except ValueError as exc:
            raise WhenError(str(exc)) from None
        if facts.ref_type == "tag":
            return call.on_tags
        sha = facts.commit_sha
        parent = self.repo.parent(sha)
        revisions = call.revisions(
            on_default_branch=facts.ref_type == "branch" and facts.ref_name == call.default_branch,
            pull_request=facts.ref_type == "pull-request",
            sha=sha,
            own_range=f"{parent}...{sha}" if parent else "",
        )
        if revisions is None:
            return True  # nothing to compare with: run rather than skip silently
        base, head = self._commit(revisions.base), self._commit(revisions.head)
        if revisions.three_dots:
            base = self.repo.merge_base(base, head)
            if base is None:
                return True  # unrelated histories: nothing to compare with
        if (base, head) not in self._diffs:
            self._diffs[base, head] = self.repo.changed_files(base, head)
        return call.matches(self._diffs[base, head], facts.pipeline_file)

    def _commit(self, revision: str) -> str:
        """A branch name is a branch before it is a tag, as in Semaphore's ranges."""
        sha = self.repo.commit_of(f"refs/heads/{revision}") or self.repo.commit_of(revision)
        if sha is None:
            raise WhenError(f"change_in: unknown git reference '{revision}'")
        return sha


def _first(stop: model.When | None, cancel: model.When | None, when: Conditions) -> str:
    if when(stop):
        return "stop"
    if when(cancel):
        return "cancel"
    return ""


def _queue(pipeline: model.Pipeline, facts: RunFacts, when: Conditions) -> tuple[str, bool]:
    implicit = f"implicit/{facts.project_id}/{facts.reference}/{facts.pipeline_file}"
    key, parallel = implicit, False
    for queue in pipeline.queue:
        if when(queue.when, default=True):
            parallel = queue.processing == "parallel"
            if queue.name:
                scope = "org" if queue.scope == "organization" else f"project/{facts.project_id}"
                key = f"{scope}/{queue.name}"
            break
    return hashlib.sha256(key.encode()).hexdigest(), parallel


def _pull_request(repo: Repository, facts: RunFacts) -> PullRequest:
    """GitHub keeps refs/pull/N/head and a test merge into the base, refs/pull/N/merge:
    the run's commit is that merge when there is one, its first parent the base's tip."""
    number, sha = facts.ref_name, facts.commit_sha
    candidates = GitRef(facts.reference, "pull-request", number).candidates()
    ref = next((name for name in candidates if repo.commit_of(name)), facts.reference)
    merged = repo.parents(sha) if ref.endswith("/merge") else []
    head = repo.commit_of(f"refs/pull/{number}/head") or (merged[1] if len(merged) == 2 else sha)
    head_branch = next(iter(repo.branches_at(head)), "")
    bases = [name for name in repo.branches_at(merged[0]) if name != head_branch] if merged else []
    # the toolbox's checkout needs a branch name: the workflow's stands in for an unknown base
    base = bases[0] if bases else facts.branch_name
    forge = facts.forge_pull_request
    if forge:  # the webhook's word on branches beats what the mirror's refs suggest
        return PullRequest(
            ref=ref,
            head_sha=head,
            base_branch=str(forge.get("base_branch") or base),
            head_branch=str(forge.get("head_branch") or head_branch),
            title=str(forge.get("title") or ""),
            head_slug=str(forge.get("head_repo") or ""),
        )
    return PullRequest(ref=ref, head_sha=head, base_branch=base, head_branch=head_branch)


# Parsed pipelines by their file's blob sha (the model is immutable); a file that reads
# others (commands_file) is parsed each time, as what it reads may differ.
_PARSED: Lru[model.Pipeline] = Lru(256)


def blob_sha(text: str) -> str:
    """git's object id of the text as a blob, without asking git."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _parsed(repo: Repository, sha: str, pipeline_file: str) -> model.Pipeline:
    text = repo.read(sha, pipeline_file)
    key = blob_sha(text)
    if (known := _PARSED.get(key)) is not None:
        return known
    read = _reader(repo, sha, pipeline_file)
    reads: list[str] = []

    def tracked(name: str) -> str:
        reads.append(name)
        return read(name)

    pipeline = parse_pipeline(text, read_file=tracked)
    if not reads:
        _PARSED.put(key, pipeline)
    return pipeline


def decide(repo: Repository, facts: RunFacts) -> Decided:
    """Raises PipelineInvalid, FileNotFoundError, WhenError or Unavailable."""
    sha = facts.commit_sha
    if not repo.has_commit(sha):
        repo.fetch()  # a mirror lost since the run began (e.g. a new data dir)
    pipeline = _parsed(repo, sha, facts.pipeline_file)
    when = Conditions(repo, facts)
    skip = tuple(when(b.skip) or (b.run is not None and not when(b.run)) for b in pipeline.blocks)
    block_fail_fast = tuple(
        _first(b.task.fail_fast.stop, b.task.fail_fast.cancel, when) if b.task.fail_fast else ""
        for b in pipeline.blocks
    )
    fail_fast = (
        _first(pipeline.fail_fast.stop, pipeline.fail_fast.cancel, when)
        if pipeline.fail_fast
        else ""
    )
    auto_cancel = ""
    if pipeline.auto_cancel:
        if when(pipeline.auto_cancel.running):
            auto_cancel = "running"
        elif when(pipeline.auto_cancel.queued):
            auto_cancel = "queued"
    queue_key, parallel = _queue(pipeline, facts, when)
    pull = _pull_request(repo, facts) if facts.ref_type == "pull-request" else None
    # a pull request's range and author are its head commit's (Semaphore's, for a run
    # started by API), not the test merge's
    head = pull.head_sha if pull else sha
    parent = repo.parent(head)
    return Decided(
        pipeline=pipeline,
        skip=skip,
        block_fail_fast=block_fail_fast,
        fail_fast=fail_fast,
        auto_cancel=auto_cancel,
        queue_key=queue_key,
        queue_parallel=parallel,
        commit_range=f"{parent}...{head}" if parent else "",
        commit=repo.commit_fields(head),
        pull_request=pull,
    )
