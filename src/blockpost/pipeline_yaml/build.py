"""Turns validated pipeline data into the typed model, reading referenced files on the way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blockpost.pipeline_yaml import model
from blockpost.pipeline_yaml.semantic import block_names, job_names, limit_minutes

FileReader = Callable[[str], str]
DEFAULT_PIPELINE_NAME = "Pipeline"


def commands_from(holder: dict[str, Any] | None, read_file: FileReader) -> model.Commands:
    if not holder:
        return ()
    if "commands_file" in holder:
        text = read_file(holder["commands_file"])
        return tuple(line.rstrip("\r") for line in text.splitlines() if line.strip())
    return tuple(holder.get("commands", ()))


def _epilogue(raw: dict[str, Any] | None, read_file: FileReader) -> model.Epilogue:
    if not raw:
        return model.Epilogue()
    if "commands" in raw or "commands_file" in raw:
        return model.Epilogue(always=commands_from(raw, read_file))
    return model.Epilogue(
        always=commands_from(raw.get("always"), read_file),
        on_pass=commands_from(raw.get("on_pass"), read_file),
        on_fail=commands_from(raw.get("on_fail"), read_file),
    )


def _env(raw: list[dict[str, str]] | None) -> tuple[model.EnvVar, ...]:
    return tuple(model.EnvVar(item["name"], item["value"]) for item in raw or ())


def _secrets(raw: list[dict[str, Any]] | None) -> tuple[model.SecretRef, ...]:
    return tuple(
        model.SecretRef(
            item["name"],
            tuple(item.get("env_var_names", ())),
            tuple(item.get("config_file_paths", ())),
        )
        for item in raw or ()
    )


def _priority(raw: list[dict[str, Any]] | None) -> tuple[model.Priority, ...]:
    return tuple(model.Priority(item["value"], item["when"]) for item in raw or ())


def agent(raw: dict[str, Any]) -> model.Agent:
    machine = raw["machine"]
    return model.Agent(
        machine=model.Machine(machine["type"], machine.get("os_image", "")),
        containers=tuple(
            model.Container(
                name=c["name"],
                image=c["image"],
                command=c.get("command", ""),
                entrypoint=c.get("entrypoint", ""),
                user=c.get("user", ""),
                env_vars=_env(c.get("env_vars")),
                secrets=_secrets(c.get("secrets")),
            )
            for c in raw.get("containers", ())
        ),
        image_pull_secrets=tuple(s["name"] for s in raw.get("image_pull_secrets", ())),
    )


def _fail_fast(raw: dict[str, Any] | None) -> model.FailFast | None:
    if not raw:
        return None
    return model.FailFast(
        stop=raw["stop"]["when"] if "stop" in raw else None,
        cancel=raw["cancel"]["when"] if "cancel" in raw else None,
    )


def task(raw: dict[str, Any], read_file: FileReader) -> model.Task:
    names = job_names(raw)
    jobs = tuple(
        model.Job(
            name=names[index],
            commands=commands_from(job, read_file),
            env_vars=_env(job.get("env_vars")),
            matrix=tuple(
                model.MatrixAxis(
                    axis["env_var"],
                    axis["values"] if isinstance(axis["values"], str) else tuple(axis["values"]),
                )
                for axis in job.get("matrix", ())
            ),
            parallelism=job.get("parallelism"),
            priority=_priority(job.get("priority")),
            execution_time_limit=limit_minutes(job.get("execution_time_limit")),
        )
        for index, job in enumerate(raw.get("jobs", ()))
    )
    return model.Task(
        jobs=jobs,
        agent=agent(raw["agent"]) if "agent" in raw else None,
        prologue=commands_from(raw.get("prologue"), read_file),
        epilogue=_epilogue(raw.get("epilogue"), read_file),
        env_vars=_env(raw.get("env_vars")),
        secrets=_secrets(raw.get("secrets")),
        fail_fast=_fail_fast(raw.get("fail_fast")),
    )


def _legacy_auto_promote(rules: list[dict[str, Any]]) -> model.When:
    """`auto_promote_on` (the old form) as an equivalent `when` condition.

    Semaphore's promotion service matches `labels` (exactly) and `label_patterns` and
    `branch` (regular expressions) against the branch name; the first non-empty one of
    labels, label_patterns, branch is the rule's."""
    alternatives = []
    for rule in rules:
        parts = [f"result = '{rule['result']}'"]
        if rule.get("result_reason"):
            parts.append(f"result_reason = '{rule['result_reason']}'")
        if rule.get("labels"):
            parts.append("(" + " or ".join(f"branch = '{b}'" for b in rule["labels"]) + ")")
        elif rule.get("label_patterns") or rule.get("branch"):
            patterns = rule.get("label_patterns") or rule["branch"]
            parts.append("(" + " or ".join(f"branch =~ '{b}'" for b in patterns) + ")")
        alternatives.append("(" + " and ".join(parts) + ")")
    return " or ".join(alternatives) if alternatives else False


def _promotion(raw: dict[str, Any]) -> model.Promotion:
    auto: model.When | None = None
    if "auto_promote" in raw:
        auto = raw["auto_promote"]["when"]
    elif raw.get("auto_promote_on"):
        auto = _legacy_auto_promote(raw["auto_promote_on"])
    parameters = tuple(
        model.Parameter(
            name=p["name"],
            required=p.get("required", True),
            options=tuple(p.get("options", ())),
            default_value=p.get("default_value"),
            description=p.get("description", ""),
        )
        for p in (raw.get("parameters") or {}).get("env_vars", ())
    )
    return model.Promotion(
        name=raw["name"],
        pipeline_file=raw["pipeline_file"],
        deployment_target=raw.get("deployment_target"),
        auto_promote=auto,
        parameters=parameters,
    )


def _queues(raw: Any) -> tuple[model.Queue, ...]:
    entries = [raw] if isinstance(raw, dict) else list(raw or ())
    return tuple(
        model.Queue(
            name=entry.get("name"),
            scope=entry.get("scope", "project"),
            processing=entry.get("processing", "serialized"),
            when=entry.get("when", True),
        )
        for entry in entries
    )


def pipeline(
    data: dict[str, Any], tasks: dict[int, dict[str, Any]], read_file: FileReader
) -> model.Pipeline:
    """`tasks` holds each block's task, with task files already read and checked."""
    names = block_names(data)
    explicit = any("dependencies" in block for block in data["blocks"])
    blocks = tuple(
        model.Block(
            name=names[index],
            task=task(tasks[index], read_file),
            dependencies=tuple(raw.get("dependencies", ()))
            if explicit
            else ((names[index - 1],) if index else ()),
            skip=raw["skip"]["when"] if "skip" in raw else None,
            run=raw["run"]["when"] if "run" in raw else None,
            execution_time_limit=limit_minutes(raw.get("execution_time_limit")),
        )
        for index, raw in enumerate(data["blocks"])
    )
    global_config = data.get("global_job_config") or {}
    after = data.get("after_pipeline")
    auto_cancel = data.get("auto_cancel")
    return model.Pipeline(
        name=data.get("name") or DEFAULT_PIPELINE_NAME,
        agent=agent(data["agent"]),
        blocks=blocks,
        global_job_config=model.GlobalJobConfig(
            prologue=commands_from(global_config.get("prologue"), read_file),
            epilogue=_epilogue(global_config.get("epilogue"), read_file),
            env_vars=_env(global_config.get("env_vars")),
            secrets=_secrets(global_config.get("secrets")),
            priority=_priority(global_config.get("priority")),
        ),
        promotions=tuple(_promotion(p) for p in data.get("promotions", ())),
        after_pipeline=task(tasks[-1], read_file) if after else None,
        execution_time_limit=limit_minutes(data.get("execution_time_limit")),
        fail_fast=_fail_fast(data.get("fail_fast")),
        auto_cancel=model.AutoCancel(
            queued=auto_cancel["queued"]["when"] if "queued" in auto_cancel else None,
            running=auto_cancel["running"]["when"] if "running" in auto_cancel else None,
        )
        if auto_cancel
        else None,
        queue=_queues(data.get("queue")),
    )
