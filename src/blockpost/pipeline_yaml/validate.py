"""Entry points: validate a pipeline file (every error) or parse it into the typed model."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from blockpost.pipeline_yaml import build, model
from blockpost.pipeline_yaml.errors import Path, PipelineInvalid, YamlError, pointer
from blockpost.pipeline_yaml.loader import Loaded, load
from blockpost.pipeline_yaml.semantic import block_names, check_semantics, check_task
from blockpost.pipeline_yaml.spec_v1 import PIPELINE, TASK

FileReader = Callable[[str], str]
"""Reads a file named in the pipeline (relative to the pipeline file's directory).

Raises OSError (e.g. FileNotFoundError) when the file cannot be read.
"""
SUPPORTED_VERSION = "v1.0"


class _Errors:
    def __init__(self, loaded: Loaded, prefix: str = "") -> None:
        self.loaded = loaded
        self.prefix = prefix
        self.found: list[YamlError] = []

    def report(self, path: Path, message: str) -> None:
        self.found.append(YamlError(pointer(path), self.prefix + message, self.loaded.line(path)))


class _CachedReader:
    def __init__(self, read_file: FileReader) -> None:
        self.read_file = read_file
        self.texts: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if path not in self.texts:
            self.texts[path] = self.read_file(path)
        return self.texts[path]


def _commands_files(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every `commands_file` value under `value`, with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "commands_file" and isinstance(item, str):
                yield (*path, key), item
            else:
                yield from _commands_files(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _commands_files(item, (*path, index))


def _task_sources(data: dict[str, Any]) -> Iterator[tuple[int, Path, Any]]:
    """Each block's task (key -1 for after_pipeline) as written: a dict, or a task_file name."""
    blocks = data.get("blocks")
    for index, block in enumerate(blocks if isinstance(blocks, list) else ()):
        if isinstance(block, dict):
            yield index, ("blocks", index), block.get("task", block.get("task_file"))
    after = data.get("after_pipeline")
    if isinstance(after, dict):
        yield -1, ("after_pipeline",), after.get("task", after.get("task_file"))


def _read_task_file(
    name: str, path: Path, owner: str, read: FileReader, errors: _Errors
) -> dict[str, Any] | None:
    where = (*path, "task_file")
    try:
        text = read(name)
        loaded = load(text)
    except OSError as exc:
        errors.report(where, f"task_file '{name}' cannot be read: {exc.strerror or exc}")
        return None
    except PipelineInvalid as exc:
        for inner in exc.errors:
            errors.report(where, f"in task_file '{name}' line {inner.line}: {inner.message}")
        return None
    inner_errors = _Errors(loaded, prefix=f"in task_file '{name}': ")
    TASK.check(loaded.data, (), inner_errors.report)
    if not inner_errors.found:
        check_task(loaded.data, (), owner, inner_errors.report)
    for inner in inner_errors.found:
        errors.report(where, f"{inner.message} (at {inner.path}, line {inner.line})")
    return None if inner_errors.found else loaded.data


def _check(
    text: str, read_file: FileReader | None
) -> tuple[dict[str, Any], list[YamlError], dict[int, dict[str, Any]]]:
    loaded = load(text)
    errors = _Errors(loaded)
    data = loaded.data
    if not isinstance(data, dict):
        errors.report((), "Definition must be a map")
        return {}, errors.found, {}
    version = data.get("version")
    if not isinstance(version, str):
        errors.report(
            ("version",) if "version" in data else (),
            "Required property 'version' missing or not string",
        )
        return data, errors.found, {}
    if version != SUPPORTED_VERSION:
        errors.report(("version",), f"Version: '{version}' is not supported!")
        return data, errors.found, {}
    PIPELINE.check(data, (), errors.report)
    check_semantics(data, errors.report)
    tasks: dict[int, dict[str, Any]] = {}
    if read_file is None:
        return data, errors.found, tasks
    names = block_names(data)
    for index, path, source in _task_sources(data):
        if isinstance(source, str):
            owner = names[index] if index >= 0 else "after_pipeline"
            loaded_task = _read_task_file(source, path, owner, read_file, errors)
            if loaded_task is not None:
                tasks[index] = loaded_task
        elif isinstance(source, dict):
            tasks[index] = source
    sources: list[tuple[Any, Path]] = [(data.get("global_job_config"), ("global_job_config",))]
    for index, task in tasks.items():
        sources.append(
            (task, ("blocks", index, "task") if index >= 0 else ("after_pipeline", "task"))
        )
    for value, base in sources:
        for path, name in _commands_files(value, base):
            try:
                read_file(name)
            except OSError as exc:
                errors.report(path, f"commands_file '{name}' cannot be read: {exc.strerror or exc}")
    return data, errors.found, tasks


def _sorted(errors: list[YamlError]) -> list[YamlError]:
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda error: error.line or 0)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading makes ~100k objects and no cycles: collecting during it only costs time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate_pipeline(text: str, *, read_file: FileReader | None = None) -> list[YamlError]:
    """Every problem in the file (empty when valid); named files are checked only with a reader."""
    try:
        with _gc_paused():
            _, errors, _ = _check(text, _CachedReader(read_file) if read_file else None)
    except PipelineInvalid as exc:
        return exc.errors
    return _sorted(errors)


def parse_pipeline(text: str, *, read_file: FileReader | None = None) -> model.Pipeline:
    """The typed pipeline; raises PipelineInvalid listing every problem."""

    def no_files(name: str) -> str:
        raise FileNotFoundError(2, "no repository to read it from", name)

    reader = _CachedReader(read_file or no_files)
    with _gc_paused():
        data, errors, tasks = _check(text, reader)
    if errors:
        raise PipelineInvalid(_sorted(errors))
    return build.pipeline(data, tasks, reader)
