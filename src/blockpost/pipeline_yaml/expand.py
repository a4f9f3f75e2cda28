"""Expands a task's jobs: matrix (cartesian product) and parallelism, names and env vars."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from blockpost.pipeline_yaml import params
from blockpost.pipeline_yaml.errors import PipelineInvalid, YamlError
from blockpost.pipeline_yaml.model import EnvVar, Job, MatrixAxis, Task
from blockpost.pipeline_yaml.semantic import MAX_MATRIX
from blockpost.pipeline_yaml.spec_v1 import MAX_PARALLELISM

JOB_INDEX = "SEMAPHORE_JOB_INDEX"
JOB_COUNT = "SEMAPHORE_JOB_COUNT"


@dataclass(frozen=True)
class ExpandedJob:
    name: str
    index: int  # position in the block, 0-based, in expansion order
    job: Job
    env_vars: tuple[EnvVar, ...]  # the job's own, then matrix/parallelism values


def _invalid(job: Job, message: str) -> PipelineInvalid:
    return PipelineInvalid([YamlError("#", f"job '{job.name}': {message}")])


def _axis_values(job: Job, axis: MatrixAxis, parameters: Mapping[str, str]) -> tuple[str, ...]:
    if not isinstance(axis.values, str):
        return axis.values
    try:
        values = params.evaluate_whole(axis.values, parameters)
    except params.ParameterError as exc:
        raise _invalid(job, f"matrix values of {axis.env_var}: {exc}") from None
    listed = values if isinstance(values, list) else [str(values)]
    if not listed:
        raise _invalid(job, f"List 'values' in job matrix must not be empty ({axis.env_var}).")
    return tuple(listed)


def _parallelism(job: Job, parameters: Mapping[str, str]) -> int:
    value = job.parallelism
    if isinstance(value, str):
        try:
            value = params.evaluate_whole(value, parameters)
        except params.ParameterError:
            raise _invalid(job, "Parallelism value is not an integer.") from None
        if isinstance(value, str) and (value := params.int64(value)) is None:
            raise _invalid(job, "Parallelism value is not an integer.")
    if not isinstance(value, int) or not 1 <= value <= MAX_PARALLELISM:
        raise _invalid(job, f"parallelism must be 1 to {MAX_PARALLELISM}, got {value!r}")
    return value


def expand_job(
    job: Job, parameters: Mapping[str, str] | None = None
) -> list[tuple[str, tuple[EnvVar, ...]]]:
    """(name, env vars) for each job this entry becomes, in Semaphore's order."""
    values = parameters or {}
    if job.parallelism is not None:
        count = _parallelism(job, values)
        own = (*job.env_vars, EnvVar(JOB_COUNT, str(count)))
        return [
            (f"{job.name} - {index}/{count}", (*own, EnvVar(JOB_INDEX, str(index))))
            for index in range(1, count + 1)
        ]
    if not job.matrix:
        return [(job.name, job.env_vars)]
    axes = [(axis.env_var, _axis_values(job, axis, values)) for axis in job.matrix]
    # Counted before the product is made: parameters can make each axis thousands long.
    if math.prod(len(axis_values) for _, axis_values in axes) > MAX_MATRIX:
        raise _invalid(job, f"Matrix product size exceeds maximum allowed size ({MAX_MATRIX}).")
    expanded = []
    for combination in itertools.product(*(axis_values for _, axis_values in axes)):
        pairs = [EnvVar(name, value) for (name, _), value in zip(axes, combination, strict=True)]
        label = ", ".join(f"{pair.name}={pair.value}" for pair in pairs)
        expanded.append((f"{job.name} - {label}", (*job.env_vars, *pairs)))
    return expanded


def expand_task(task: Task, parameters: Mapping[str, str] | None = None) -> list[ExpandedJob]:
    jobs: list[ExpandedJob] = []
    for job in task.jobs:
        for name, env_vars in expand_job(job, parameters):
            jobs.append(ExpandedJob(name=name, index=len(jobs), job=job, env_vars=env_vars))
    return jobs
