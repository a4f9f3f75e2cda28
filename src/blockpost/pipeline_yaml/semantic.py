"""Rules beyond the shape: dependencies, names, matrices, time limits, `when` syntax."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from blockpost.pipeline_yaml import params
from blockpost.pipeline_yaml.errors import Path, pointer
from blockpost.pipeline_yaml.schema import Report
from blockpost.pipeline_yaml.when import WhenError
from blockpost.pipeline_yaml.when.parser import keywords_in, parse

MAX_MATRIX = 100
DEFAULT_PIPELINE_LIMIT = 60
MAX_JOB_LIMIT = 24 * 60
RUN_RESULT_KEYWORDS = frozenset({"result", "result_reason"})
# A container's name is its host name on the job's network and names it to docker.
CONTAINER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
# Semaphore's agent writes these into a docker compose file, one line each.
ONE_LINE_CONTAINER_KEYS = ("image", "command", "entrypoint", "user")


def _dicts(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def assign_names(given: list[str | None], prefix: str) -> list[str]:
    """Fills in names for unnamed items: `<prefix> 1`, `<prefix> 2`, … skipping taken names."""
    taken = {name for name in given if name}
    counter = 1
    named = []
    for name in given:
        if not name:
            while f"{prefix} {counter}" in taken:
                counter += 1
            name = f"{prefix} {counter}"
            taken.add(name)
            counter += 1
        named.append(name)
    return named


def block_names(data: dict[str, Any]) -> list[str]:
    blocks = data.get("blocks") if isinstance(data.get("blocks"), list) else []
    given = [_text(b.get("name")) if isinstance(b, dict) else None for b in blocks]
    return assign_names(given, "Nameless block")


def job_names(task: dict[str, Any]) -> list[str]:
    jobs = task.get("jobs") if isinstance(task.get("jobs"), list) else []
    return assign_names(
        [_text(j.get("name")) if isinstance(j, dict) else None for j in jobs], "Nameless"
    )


def check_semantics(data: dict[str, Any], report: Report) -> None:
    names = block_names(data)
    blocks = dict(_dicts(data.get("blocks")))
    _unique(names, lambda i: ("blocks", i, "name"), "blocks", report)
    _dependencies(blocks, names, report)
    if isinstance(data.get("agent"), dict):
        check_containers(data["agent"], ("agent",), report)
    for index, block in blocks.items():
        if isinstance(block.get("task"), dict):
            check_task(block["task"], ("blocks", index, "task"), names[index], report)
    after = data.get("after_pipeline")
    if isinstance(after, dict) and isinstance(after.get("task"), dict):
        check_task(after["task"], ("after_pipeline", "task"), "after_pipeline", report)
    _time_limits(data, blocks, report)
    _promotions(data, report)
    for path, condition in _when_conditions(data):
        check_when(condition, path, report)


def _unique(names: list[str], path_of: Any, what: str, report: Report) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            report(path_of(index), f"There are at least two {what} with same name: {name}")
        seen.add(name)


def _promotions(data: dict[str, Any], report: Report) -> None:
    """What Semaphore's promotion service refuses when the pipeline starts."""
    promotions = dict(_dicts(data.get("promotions")))
    named = {index: name for index, p in promotions.items() if (name := _text(p.get("name")))}
    seen: set[str] = set()
    for index, name in named.items():
        if name in seen:
            report(
                ("promotions", index, "name"),
                f"There are at least two promotions with same name: {name}",
            )
        seen.add(name)
    for index, promotion in promotions.items():
        parameters = promotion.get("parameters")
        env_vars = parameters.get("env_vars") if isinstance(parameters, dict) else None
        declared: set[str] = set()
        for position, param in _dicts(env_vars):
            name = _text(param.get("name"))
            if name is None:
                continue
            path = ("promotions", index, "parameters", "env_vars", position)
            if name in declared:
                report(
                    (*path, "name"),
                    f"Parameter environment variable with name '{name}' is defined at least "
                    "two times.",
                )
            declared.add(name)
            # A default would always fill an optional parameter: Semaphore refuses the pair.
            if param.get("required") is False and _text(param.get("default_value")):
                report(
                    path,
                    f"Invalid parameter: '{name}' - it can either be optional or have default "
                    "value.",
                )


def _dependencies(blocks: dict[int, dict[str, Any]], names: list[str], report: Report) -> None:
    declared = [index for index, block in blocks.items() if "dependencies" in block]
    if declared and len(declared) != len(blocks):
        report(
            ("blocks",),
            "There are blocks with both explicitly and implicitly defined dependencies. "
            "This is not allowed, please use only one of this formats.",
        )
        return
    known = set(names)
    edges: dict[str, list[str]] = {}
    for index in declared:
        deps = blocks[index]["dependencies"]
        if not isinstance(deps, list):
            continue
        edges[names[index]] = [dep for dep in deps if isinstance(dep, str)]
        for position, dep in enumerate(deps):
            if isinstance(dep, str) and dep not in known:
                report(
                    ("blocks", index, "dependencies", position),
                    f"Block '{names[index]}' depends on '{dep}', but no block has that name.",
                )
    cycle = _find_cycle(edges, [names[i] for i in declared])
    if cycle:
        rendered = " → ".join(f"'{name}'" for name in reversed(cycle))
        report(
            ("blocks", names.index(cycle[0]), "dependencies"),
            f"Circular dependency between blocks detected: {rendered}. "
            "Blocks cannot depend on each other in a cycle.",
        )


def _find_cycle(edges: dict[str, list[str]], order: list[str]) -> list[str] | None:
    """A cycle as [a, b, …, a] where each depends on the next, or None.

    A walk with its own stack: a file may chain thousands of blocks (the block limit is an
    error reported beside this one), more than Python's stack takes in recursion."""
    state: dict[str, int] = {}  # 1: on the path walked now, 2: done
    for start in order:
        if start in state:
            continue
        state[start] = 1
        path, pending = [start], [iter(edges.get(start, []))]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            elif dep in edges and dep not in state:
                state[dep] = 1
                path.append(dep)
                pending.append(iter(edges[dep]))
    return None


def matrix_size(job: dict[str, Any]) -> int:
    """How many jobs one job entry expands to (a value given as an expression counts as 1)."""
    if "parallelism" not in job and "matrix" not in job:
        return 1
    parallelism = job.get("parallelism")
    if isinstance(parallelism, int) and not isinstance(parallelism, bool):
        return max(parallelism, 1)
    sizes = [
        len(axis["values"]) if isinstance(axis.get("values"), list) else 1
        for _, axis in _dicts(job.get("matrix"))
    ]
    return math.prod(sizes) if sizes else 1


def check_task(task: dict[str, Any], path: Path, block: str, report: Report) -> None:
    if "boosters" in task:
        report(
            (*path, "boosters"),
            "boosters are a retired Semaphore feature that blockpost does not run; "
            "use 'parallelism' on a job instead.",
        )
    if isinstance(task.get("agent"), dict):
        check_containers(task["agent"], (*path, "agent"), report)
    names = job_names(task)
    _unique(names, lambda j: (*path, "jobs", j, "name"), "jobs", report)
    total = 0
    for index, job in _dicts(task.get("jobs")):
        if "matrix" in job:
            _matrix(job, (*path, "jobs", index), block, names[index], report)
        parallelism = job.get("parallelism")
        if isinstance(parallelism, str) and not params.WHOLE.match(parallelism):
            report(
                (*path, "jobs", index, "parallelism"),
                f"Parallelism value for job '{names[index]}' in block '{block}' is not an integer.",
            )
        total += matrix_size(job)
    if total > MAX_MATRIX:
        report(
            (*path, "jobs"),
            f"Total matrix size exceeds maximum allowed size ({MAX_MATRIX}) in block '{block}'. "
            "The matrix product size is calculated as the product of the number of values "
            "for each environment variable.",
        )


def check_containers(agent: dict[str, Any], path: Path, report: Report) -> None:
    containers = dict(_dicts(agent.get("containers")))
    names = {index: c["name"] for index, c in containers.items() if isinstance(c.get("name"), str)}
    for index, name in names.items():
        if not CONTAINER_NAME.fullmatch(name):
            report(
                (*path, "containers", index, "name"),
                f"Container name '{name}' is not valid: 1-63 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit.",
            )
    seen: set[str] = set()
    for index, name in names.items():
        if name in seen:
            report(
                (*path, "containers", index, "name"),
                f"There are at least two containers with same name: {name}",
            )
        seen.add(name)
    for index, container in containers.items():
        for key in ONE_LINE_CONTAINER_KEYS:
            value = container.get(key)
            if isinstance(value, str) and ("\n" in value or "\r" in value):
                report((*path, "containers", index, key), f"Container {key} must be one line.")


def _matrix(job: dict[str, Any], path: Path, block: str, name: str, report: Report) -> None:
    axes = list(_dicts(job.get("matrix")))
    own = {_text(env.get("name")) for _, env in _dicts(job.get("env_vars"))}
    seen: set[str] = set()
    for index, axis in axes:
        env = _text(axis.get("env_var"))
        if env is None:
            continue
        if env in seen:
            report((*path, "matrix", index, "env_var"), f"Duplicate name: '{env}' in Matrix.")
        elif env in own:
            report(
                (*path, "matrix", index, "env_var"),
                f"Duplicate environment variable(s): '{env}' in job matrix "
                f"(block '{block}', job '{name}').",
            )
        seen.add(env)
    if axes and matrix_size(job) > MAX_MATRIX:
        report(
            (*path, "matrix"),
            f"Matrix product size exceeds maximum allowed size ({MAX_MATRIX}) in job matrix "
            f"(block '{block}', job '{name}'). The matrix product size is calculated as the "
            "product of the number of values for each environment variable.",
        )


def limit_minutes(limit: Any) -> int | None:
    if not isinstance(limit, dict):
        return None
    for key, factor in (("minutes", 1), ("hours", 60)):
        value = limit.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value * factor
    return None


def duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)

    def unit(count: int, word: str) -> str:
        return f"{count} {word}{'s' if count != 1 else ''}"

    if not hours:
        return unit(rest, "minute")
    if not rest:
        return unit(hours, "hour")
    return f"{unit(hours, 'hour')} and {unit(rest, 'minute')}"


def _time_limits(data: dict[str, Any], blocks: dict[int, dict[str, Any]], report: Report) -> None:
    explicit = limit_minutes(data.get("execution_time_limit"))
    pipeline = explicit or DEFAULT_PIPELINE_LIMIT
    if explicit and explicit > MAX_JOB_LIMIT:
        report(
            ("execution_time_limit",),
            f"The pipeline level execution_time_limit is set to {duration(explicit)} which is "
            "longer than default job level execution_time_limit of 24 hours. This would cause "
            "the pipeline to stop as soon as first job reaches that default time limit for jobs.",
        )
    for index, block in blocks.items():
        block_limit = limit_minutes(block.get("execution_time_limit"))
        if block_limit and block_limit > pipeline:
            report(
                ("blocks", index, "execution_time_limit"),
                f"Block on path '#/blocks/{index}' has an execution_time_limit of "
                f"{duration(block_limit)} which is longer than execution_time_limit of a whole "
                f"pipeline which is {duration(pipeline)}. This would cause that block to stop "
                "when pipeline level time limit is reached.",
            )
        task = block.get("task") if isinstance(block.get("task"), dict) else {}
        for job_index, job in _dicts(task.get("jobs")):
            if "execution_time_limit" not in job:
                continue
            job_limit = limit_minutes(job["execution_time_limit"])
            where = f"#/blocks/{index}/task/jobs/{job_index}"
            path = ("blocks", index, "task", "jobs", job_index, "execution_time_limit")
            if job_limit and block_limit and job_limit > block_limit:
                report(
                    path,
                    f"Job on path '{where}' has an execution_time_limit of {duration(job_limit)} "
                    f"which is longer than {duration(block_limit)} that is the "
                    "execution_time_limit of a block to which this job belongs. This would cause "
                    "that job to stop when block level time limit is reached.",
                )
            elif job_limit and job_limit > pipeline:
                report(
                    path,
                    f"Job on path '{where}' has an execution_time_limit of {duration(job_limit)} "
                    "which is longer than execution_time_limit of a whole pipeline which is "
                    f"{duration(pipeline)}. This would cause that job to stop when pipeline "
                    "level time limit is reached.",
                )


def _conditions_in(owner: Any, path: Path, keys: tuple[str, ...]) -> Iterator[tuple[Path, Any]]:
    if not isinstance(owner, dict):
        return
    for key in keys:
        holder = owner.get(key)
        if isinstance(holder, dict) and "when" in holder:
            yield (*path, key, "when"), holder["when"]


def _priority_conditions(owner: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(owner, dict) and "priority" in owner:
        for index, entry in _dicts(owner.get("priority")):
            if "when" in entry:
                yield (*path, "priority", index, "when"), entry["when"]


def _task_conditions(task: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if not isinstance(task, dict):
        return
    yield from _conditions_in(task.get("fail_fast"), (*path, "fail_fast"), ("stop", "cancel"))
    for index, job in _dicts(task.get("jobs")):
        if "priority" in job:
            yield from _priority_conditions(job, (*path, "jobs", index))


def _when_conditions(data: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    yield from _conditions_in(data.get("fail_fast"), ("fail_fast",), ("stop", "cancel"))
    yield from _conditions_in(data.get("auto_cancel"), ("auto_cancel",), ("queued", "running"))
    yield from _priority_conditions(data.get("global_job_config"), ("global_job_config",))
    queue = data.get("queue")
    entries = [(None, queue)] if isinstance(queue, dict) else list(_dicts(queue))
    for index, entry in entries:
        if isinstance(entry, dict) and "when" in entry:
            base: Path = ("queue",) if index is None else ("queue", index)
            yield (*base, "when"), entry["when"]
    for index, block in _dicts(data.get("blocks")):
        yield from _conditions_in(block, ("blocks", index), ("skip", "run"))
        yield from _task_conditions(block.get("task"), ("blocks", index, "task"))
    after = data.get("after_pipeline")
    if isinstance(after, dict):
        yield from _task_conditions(after.get("task"), ("after_pipeline", "task"))
    for index, promotion in _dicts(data.get("promotions")):
        yield from _conditions_in(promotion, ("promotions", index), ("auto_promote",))


def check_when(condition: Any, path: Path, report: Report) -> None:
    if not isinstance(condition, str) or not condition:
        return
    where = pointer(path)
    try:
        tree = parse(params.substitute(condition, None))
    except WhenError as exc:
        report(path, f"Invalid 'when' condition on path '{where}': {exc}")
        return
    in_block = path[0] == "blocks" and path[2] in {"skip", "run"}
    used = keywords_in(tree) & RUN_RESULT_KEYWORDS
    if in_block and used:
        report(
            path,
            f"Invalid 'when' condition on path '{where}': '{sorted(used)[0]}' is only known "
            "once the pipeline is done (use it in auto_promote).",
        )
