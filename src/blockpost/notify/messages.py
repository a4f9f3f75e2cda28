"""The bodies Semaphore sends: a Slack incoming-webhook message and the webhook payload."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from blockpost.db.models import Block, Job, Pipeline, Project, Workflow
from blockpost.dispatch.jobenv import repo_names
from blockpost.timefmt import iso_seconds

PASSED_COLOR = "#19a974"
OTHER_COLOR = "#f75819"
SLACK_ICON = "https://a.slack-edge.com/7f1a0/plugins/semaphore/assets/service_72.png"
_REF_TYPES = {"pull-request": "pull_request"}


@dataclass(frozen=True)
class Facts:
    """A finished pipeline with what its messages tell of it."""

    pipeline: Pipeline
    workflow: Workflow
    project: Project
    blocks: Sequence[Block]
    jobs: Sequence[Job]
    server_url: str  # links in Slack messages start with it

    @property
    def workflow_url(self) -> str:
        return f"{self.server_url}/workflows/{self.workflow.id}?pipeline_id={self.pipeline.id}"


def slack(facts: Facts, channel: str | None) -> dict[str, Any]:
    """Semaphore's Slack message: one attachment, green when the pipeline passed."""
    pipeline, workflow = facts.pipeline, facts.workflow
    result = pipeline.result or ""
    author = workflow.requester_name
    sha = workflow.commit_sha[:9]
    link = f"<{facts.workflow_url}|{pipeline.name}>"
    return {
        "username": "Semaphore",
        "icon_url": SLACK_ICON,
        "channel": channel,
        "attachments": [
            {
                "color": PASSED_COLOR if result == "passed" else OTHER_COLOR,
                "fallback": f"{author}'s {link} {result}",
                "text": f"{author}'s {link} {result} — {sha} on {workflow.branch_name}",
                "author_name": facts.project.name,
            }
        ],
    }


def webhook(facts: Facts, organization: str, organization_id: str) -> dict[str, Any]:
    """Semaphore's generic webhook payload, version 1.0.0."""
    pipeline, workflow, project = facts.pipeline, facts.workflow, facts.project
    ref_type = _REF_TYPES.get(workflow.ref_type, workflow.ref_type)
    directory, _, file_name = pipeline.yaml_file_path.rpartition("/")
    jobs_of: dict[str, list[Job]] = {}
    for job in sorted(facts.jobs, key=lambda j: j.index):
        if job.block_id is not None:
            jobs_of.setdefault(job.block_id, []).append(job)
    return {
        "version": "1.0.0",
        "organization": {"name": organization, "id": organization_id},
        "project": {"name": project.name, "id": project.id},
        "repository": {
            "slug": repo_names(project.repository_url)[1],
            "url": project.repository_url,
        },
        "revision": {
            "reference": workflow.reference,
            "reference_type": ref_type,
            "commit_sha": workflow.commit_sha,
            "commit_message": workflow.commit_message,
            "sender": {"login": workflow.requester_name, "email": "", "avatar_url": ""},
            "branch": {"name": workflow.branch_name, "commit_range": ""}
            if ref_type == "branch"
            else None,
            "pull_request": {
                "head_repo_slug": "",
                "number": int(workflow.ref_name) if workflow.ref_name.isdigit() else 0,
                "name": "",
                "head_sha": "",
                "branch_name": "",
                "commit_range": "",
            }
            if ref_type == "pull_request"
            else None,
            "tag": {"name": workflow.ref_name} if ref_type == "tag" else None,
        },
        "workflow": {
            "id": workflow.id,
            "initial_pipeline_id": workflow.initial_ppl_id,
            "created_at": iso_seconds(workflow.created_at),
        },
        "pipeline": {
            "id": pipeline.id,
            "yaml_file_name": file_name,
            "working_directory": directory or ".",
            "state": pipeline.state,
            "result_reason": pipeline.result_reason or "",
            "result": pipeline.result or "",
            "name": pipeline.name,
            "error_description": pipeline.error_description,
            "running_at": iso_seconds(pipeline.running_at),
            "queuing_at": iso_seconds(pipeline.queuing_at),
            "pending_at": iso_seconds(pipeline.pending_at),
            "stopping_at": iso_seconds(pipeline.stopping_at),
            "done_at": iso_seconds(pipeline.done_at),
            "created_at": iso_seconds(pipeline.created_at),
        },
        "blocks": [
            {
                "state": block.state,
                "result": block.result or "",
                "result_reason": block.result_reason or "",
                "name": block.name,
                "jobs": [
                    {
                        "id": job.id,
                        "name": job.name,
                        "index": job.index,
                        "status": job.state,
                        "result": job.result or "",
                    }
                    for job in jobs_of.get(block.id, [])
                ],
            }
            for block in sorted(facts.blocks, key=lambda b: b.index)
        ],
    }
