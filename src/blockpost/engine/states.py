"""The words stored for pipeline, block and job states and results, in one place."""

from __future__ import annotations

from enum import StrEnum


class PipelineState(StrEnum):
    INITIALIZING = "initializing"
    PENDING = "pending"
    QUEUING = "queuing"
    RUNNING = "running"
    STOPPING = "stopping"
    DONE = "done"


class BlockState(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    STOPPING = "stopping"
    DONE = "done"


class JobState(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


class Result(StrEnum):
    """A done pipeline's or block's result; a finished job's is one of the first three."""

    PASSED = "passed"
    FAILED = "failed"
    STOPPED = "stopped"
    CANCELED = "canceled"
