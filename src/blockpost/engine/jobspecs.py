"""Turns a decided pipeline into job specs: commands, SEMAPHORE_* environment, secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from blockpost.crypto import Sealer
from blockpost.db.base import new_uuid
from blockpost.dispatch.jobenv import Env, job_env, repo_names, repository_env
from blockpost.dispatch.queue import ContainerSpec, JobSpec
from blockpost.engine.plan import Decided, RunFacts
from blockpost.pipeline_yaml import model
from blockpost.pipeline_yaml.expand import expand_task
from blockpost.services.secrets import SecretData

DEFAULT_JOB_LIMIT_MINUTES = 60  # Semaphore's default when the YAML sets none


@dataclass(frozen=True)
class PlannedJob:
    id: str
    index: int
    spec: JobSpec


@dataclass(frozen=True)
class PlannedBlock:
    index: int
    name: str
    dependencies: tuple[str, ...]
    skip: bool
    fail_fast: str
    jobs: tuple[PlannedJob, ...]


def secret_names(pipeline: model.Pipeline) -> list[str]:
    """Every secret the pipeline names, in order of first mention (its containers' and
    image pull secrets too)."""
    tasks = [block.task for block in pipeline.blocks]
    if pipeline.after_pipeline:
        tasks.append(pipeline.after_pipeline)
    names: dict[str, None] = {ref.name: None for ref in pipeline.global_job_config.secrets}
    for task in tasks:
        names.update((ref.name, None) for ref in task.secrets)
    for agent in (pipeline.agent, *(task.agent for task in tasks if task.agent)):
        for container in agent.containers:
            names.update((ref.name, None) for ref in container.secrets)
        names.update((name, None) for name in agent.image_pull_secrets)
    return list(names)


def git_env(facts: RunFacts, decided: Decided) -> Env:
    """The run's SEMAPHORE_GIT_* variables, as Semaphore sets them for each kind of ref."""
    _, slug = repo_names(facts.repository_url)
    pull = decided.pull_request
    env: Env = [
        *repository_env(facts.repository_url),
        ("SEMAPHORE_GIT_SHA", facts.commit_sha),
        ("SEMAPHORE_GIT_REPO_SLUG", slug),
        ("SEMAPHORE_GIT_REF", pull.ref if pull else facts.reference),
        ("SEMAPHORE_GIT_COMMIT_RANGE", decided.commit_range),
        ("SEMAPHORE_GIT_REF_TYPE", facts.ref_type),
    ]
    if pull is not None:
        env += [
            ("SEMAPHORE_GIT_BRANCH", pull.base_branch),
            # the head's repository: as the forge's webhook named it; else this one when
            # its branch is here, else unknown (a fork)
            ("SEMAPHORE_GIT_PR_SLUG", pull.head_slug or (slug if pull.head_branch else "")),
            ("SEMAPHORE_GIT_PR_SHA", pull.head_sha),
            ("SEMAPHORE_GIT_PR_NUMBER", facts.ref_name),
            ("SEMAPHORE_GIT_PR_NAME", pull.title),  # a title only the forge knows
            ("SEMAPHORE_GIT_PR_BRANCH", pull.head_branch),
            ("SEMAPHORE_GIT_WORKING_BRANCH", pull.head_branch),
        ]
    elif facts.ref_type == "tag":
        env += [
            ("SEMAPHORE_GIT_BRANCH", facts.reference),
            ("SEMAPHORE_GIT_TAG_NAME", facts.ref_name),
        ]
    else:
        env += [
            ("SEMAPHORE_GIT_BRANCH", facts.ref_name),
            ("SEMAPHORE_GIT_WORKING_BRANCH", facts.ref_name),
        ]
    return env


def pipeline_env(facts: RunFacts, decided: Decided, block_name: str) -> Env:
    """The workflow and pipeline variables that open a job's spec env_vars, then the
    parameters (a schedule's or a promotion's)."""
    return [
        ("SEMAPHORE_WORKFLOW_ID", facts.workflow_id),
        ("SEMAPHORE_WORKFLOW_NUMBER", str(facts.workflow_number)),
        ("SEMAPHORE_WORKFLOW_RERUN", str(facts.rerun).lower()),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_HOOK", str(facts.triggered_by == "hook").lower()),
        (
            "SEMAPHORE_WORKFLOW_TRIGGERED_BY_SCHEDULE",
            str(facts.triggered_by == "schedule").lower(),
        ),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_API", str(facts.triggered_by == "api").lower()),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_MANUAL_RUN", "false"),
        ("SEMAPHORE_PIPELINE_ARTEFACT_ID", facts.pipeline_id),
        ("SEMAPHORE_PIPELINE_ID", facts.pipeline_id),
        ("SEMAPHORE_PIPELINE_NAME", decided.pipeline.name),
        ("SEMAPHORE_BLOCK_NAME", block_name),
        ("SEMAPHORE_PIPELINE_RERUN", "false"),
        ("SEMAPHORE_PIPELINE_PROMOTION", str(bool(facts.ancestors)).lower()),
        ("SEMAPHORE_PIPELINE_PROMOTED_BY", facts.promoted_by),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY", facts.requester),
        ("SEMAPHORE_GIT_COMMIT_AUTHOR", decided.commit.get("author", "")),
        ("SEMAPHORE_GIT_COMMITTER", decided.commit.get("committer", "")),
        *(
            (f"SEMAPHORE_PIPELINE_{index}_ARTEFACT_ID", pipeline_id)
            for index, pipeline_id in enumerate((*facts.ancestors, facts.pipeline_id))
        ),
        *facts.parameters.items(),
    ]


class SpecBuilder:
    """Builds the JobSpecs of one pipeline."""

    def __init__(
        self,
        facts: RunFacts,
        decided: Decided,
        secrets: Mapping[str, SecretData],
        sealer: Sealer,
        hosted_agent_type: str,
        target: tuple[str, SecretData] | None = None,
    ) -> None:
        self.facts = facts
        self.decided = decided
        self.pipeline = decided.pipeline
        self.secrets = secrets
        self.sealer = sealer
        self.hosted_agent_type = hosted_agent_type
        self.target = target  # a deployment target's name and secrets, for every job
        self.git_env = git_env(facts, decided)

    def blocks(self) -> list[PlannedBlock]:
        planned = []
        for index, block in enumerate(self.pipeline.blocks):
            jobs = self.jobs(block.task, block.name, block.execution_time_limit)
            planned.append(
                PlannedBlock(
                    index=index,
                    name=block.name,
                    dependencies=block.dependencies,
                    skip=self.decided.skip[index],
                    fail_fast=self.decided.block_fail_fast[index],
                    jobs=tuple(jobs),
                )
            )
        return planned

    def after_pipeline(self) -> list[PlannedJob]:
        task = self.pipeline.after_pipeline
        return self.jobs(task, "After pipeline", None) if task else []

    def _limit_seconds(self, job: model.Job, block_limit: int | None) -> int:
        minutes = job.execution_time_limit or block_limit or DEFAULT_JOB_LIMIT_MINUTES
        if self.pipeline.execution_time_limit:
            minutes = min(minutes, self.pipeline.execution_time_limit)
        return minutes * 60

    def _sealed(self, task: model.Task) -> tuple[list[str], str | None]:
        refs = [*self.pipeline.global_job_config.secrets, *task.secrets]
        names = list(dict.fromkeys(ref.name for ref in refs))
        parts = [self.secrets[name] for name in names]
        if self.target is not None:
            # first, as in Semaphore: the pipeline's own secrets override the target's
            names.insert(0, f"{self.target[0]} (deployment target)")
            parts.insert(0, self.target[1])
        if not parts:
            return [], None
        merged = SecretData()
        for part in parts:
            merged.env_vars.extend(part.env_vars)
            merged.files.extend(part.files)
        return names, merged.sealed(self.sealer)

    def _compose(self, agent: model.Agent) -> tuple[tuple[ContainerSpec, ...], str | None]:
        """The agent's containers, and their secrets' values and pull credentials sealed."""
        containers = tuple(
            ContainerSpec(
                name=c.name,
                image=c.image,
                command=c.command,
                entrypoint=c.entrypoint,
                user=c.user,
                env_vars=tuple((e.name, e.value) for e in c.env_vars),
                secret_names=tuple(dict.fromkeys(ref.name for ref in c.secrets)),
            )
            for c in agent.containers
        )
        secret_env = [
            [
                {"name": name, "value": value}
                for secret in container.secret_names
                for name, value in self.secrets[secret].env_vars
            ]
            for container in containers
        ]
        credentials = [self.secrets[name].as_json() for name in agent.image_pull_secrets]
        if not any(secret_env) and not credentials:
            return containers, None
        sealed = self.sealer.seal({"containers": secret_env, "image_pull_credentials": credentials})
        return containers, sealed

    def jobs(self, task: model.Task, block_name: str, block_limit: int | None) -> list[PlannedJob]:
        config = self.pipeline.global_job_config
        agent = task.agent or self.pipeline.agent
        machine = agent.machine
        agent_type = machine.type if machine.type.startswith("s1-") else self.hosted_agent_type
        prologue = (*config.prologue, *task.prologue)
        epilogue = (task.epilogue, config.epilogue)
        names, sealed = self._sealed(task)
        containers, sealed_compose = self._compose(agent)
        spec_env: Env = [
            *pipeline_env(self.facts, self.decided, block_name),
            *((e.name, e.value) for e in config.env_vars),
            *((e.name, e.value) for e in task.env_vars),
        ]
        planned = []
        for expanded in expand_task(task):
            job_id = new_uuid()
            own = job_env(
                job_id=job_id,
                name=expanded.name,
                job_type="pipeline_job",
                created_at=self.facts.created_at,
                project_id=self.facts.project_id,
                project_name=self.facts.project_name,
                machine_type=machine.type,
                os_image=machine.os_image,
                containers=bool(agent.containers),
            )
            spec = JobSpec(
                name=expanded.name,
                agent_type=agent_type,
                commands=(*prologue, *expanded.job.commands),
                env_vars=[*spec_env, *((e.name, e.value) for e in expanded.env_vars)],
                job_env=own,
                git_env=self.git_env,
                epilogue_always=tuple(c for e in epilogue for c in e.always),
                epilogue_on_pass=tuple(c for e in epilogue for c in e.on_pass),
                epilogue_on_fail=tuple(c for e in epilogue for c in e.on_fail),
                machine_type=machine.type,
                os_image=machine.os_image,
                project_id=self.facts.project_id,
                execution_time_limit=self._limit_seconds(expanded.job, block_limit),
                secret_names=names,
                sealed_secrets=sealed,
                containers=containers,
                image_pull_secrets=agent.image_pull_secrets,
                sealed_compose=sealed_compose,
            )
            planned.append(PlannedJob(id=job_id, index=expanded.index, spec=spec))
        return planned
