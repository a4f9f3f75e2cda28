"""Typed pipeline definitions, as the engine consumes them (files already resolved)."""

from __future__ import annotations

from dataclasses import dataclass, field

When = str | bool
Commands = tuple[str, ...]


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str


@dataclass(frozen=True)
class SecretRef:
    name: str
    env_var_names: tuple[str, ...] = ()
    config_file_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Epilogue:
    always: Commands = ()
    on_pass: Commands = ()
    on_fail: Commands = ()


@dataclass(frozen=True)
class Machine:
    type: str
    os_image: str = ""


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: str = ""
    entrypoint: str = ""
    user: str = ""
    env_vars: tuple[EnvVar, ...] = ()
    secrets: tuple[SecretRef, ...] = ()


@dataclass(frozen=True)
class Agent:
    machine: Machine
    containers: tuple[Container, ...] = ()
    image_pull_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatrixAxis:
    env_var: str
    values: tuple[str, ...] | str  # a string is a parameter expression


@dataclass(frozen=True)
class Priority:
    value: int
    when: When


@dataclass(frozen=True)
class Job:
    name: str
    commands: Commands
    env_vars: tuple[EnvVar, ...] = ()
    matrix: tuple[MatrixAxis, ...] = ()
    parallelism: int | str | None = None
    priority: tuple[Priority, ...] = ()
    execution_time_limit: int | None = None  # minutes


@dataclass(frozen=True)
class FailFast:
    stop: When | None = None
    cancel: When | None = None


@dataclass(frozen=True)
class Task:
    jobs: tuple[Job, ...]
    agent: Agent | None = None
    prologue: Commands = ()
    epilogue: Epilogue = field(default_factory=Epilogue)
    env_vars: tuple[EnvVar, ...] = ()
    secrets: tuple[SecretRef, ...] = ()
    fail_fast: FailFast | None = None


@dataclass(frozen=True)
class Block:
    name: str
    task: Task
    dependencies: tuple[str, ...]
    skip: When | None = None
    run: When | None = None
    execution_time_limit: int | None = None


@dataclass(frozen=True)
class Queue:
    name: str | None = None
    scope: str = "project"
    processing: str = "serialized"
    when: When = True


@dataclass(frozen=True)
class Parameter:
    name: str
    required: bool = True
    options: tuple[str, ...] = ()
    default_value: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Promotion:
    name: str
    pipeline_file: str
    deployment_target: str | None = None
    auto_promote: When | None = None
    parameters: tuple[Parameter, ...] = ()


@dataclass(frozen=True)
class GlobalJobConfig:
    prologue: Commands = ()
    epilogue: Epilogue = field(default_factory=Epilogue)
    env_vars: tuple[EnvVar, ...] = ()
    secrets: tuple[SecretRef, ...] = ()
    priority: tuple[Priority, ...] = ()


@dataclass(frozen=True)
class AutoCancel:
    queued: When | None = None
    running: When | None = None


@dataclass(frozen=True)
class Pipeline:
    name: str
    agent: Agent
    blocks: tuple[Block, ...]
    global_job_config: GlobalJobConfig = field(default_factory=GlobalJobConfig)
    promotions: tuple[Promotion, ...] = ()
    after_pipeline: Task | None = None
    execution_time_limit: int | None = None  # minutes
    fail_fast: FailFast | None = None
    auto_cancel: AutoCancel | None = None
    queue: tuple[Queue, ...] = ()
