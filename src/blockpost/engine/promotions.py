"""Promotions: what a pipeline can promote to, and starting the promoted pipeline."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import DeploymentTarget, Pipeline, Project, Promotion, Workflow
from blockpost.dispatch.queue import wake_engine
from blockpost.engine import targets
from blockpost.engine.context import EngineContext
from blockpost.engine.plan import Conditions, RunFacts
from blockpost.errors import InvalidInput, NotFound
from blockpost.pipeline_yaml import model
from blockpost.pipeline_yaml.when.lexer import WhenError
from blockpost.services import audit
from blockpost.services.principal import Principal
from blockpost.timefmt import utcnow

AUTO = targets.AUTO

# `promoted_by` of a pipeline no person promoted.
AUTO_PROMOTER = "auto-promotion"


def definitions(pipeline: model.Pipeline) -> list[dict[str, Any]]:
    """The file's promotions as stored on the pipeline (JSON)."""
    return [
        {
            "name": p.name,
            "pipeline_file": p.pipeline_file,
            "deployment_target": p.deployment_target,
            "auto_promote": p.auto_promote,
            "parameters": [
                {
                    "name": param.name,
                    "required": param.required,
                    "options": list(param.options),
                    "default_value": param.default_value,
                }
                for param in p.parameters
            ],
        }
        for p in pipeline.promotions
    ]


def _parameters(definition: dict[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    declared = {param["name"]: param for param in definition["parameters"]}
    for name in given:
        if name not in declared:
            raise InvalidInput(name, f"is not a parameter of promotion {definition['name']!r}")
    values = {}
    for name, param in declared.items():
        value = given.get(name) or param["default_value"]
        if not value:
            if param["required"]:
                raise InvalidInput(name, f"is required by promotion {definition['name']!r}")
            continue
        if param["options"] and value not in param["options"]:
            raise InvalidInput(name, f"must be one of {', '.join(param['options'])}")
        values[name] = value
    return values


@dataclass(frozen=True)
class Outcome:
    promotion: Promotion
    refused: str = ""  # why a deployment target refused it


async def promote(
    session: AsyncSession,
    ctx: EngineContext,
    source: Pipeline,
    name: str,
    *,
    caller: Principal | None,
    override: bool = False,
    given: Mapping[str, str] | None = None,
) -> Outcome:
    """Starts the promotion's pipeline in the source's workflow, at the same commit.

    `caller` None is an auto-promotion. Bad requests raise InvalidInput; a deployment
    target's refusal is an Outcome with `refused` set, recorded in its history."""
    definition = next((d for d in source.promotions if d["name"] == name), None)
    if definition is None:
        raise InvalidInput("name", f"{name!r} is not a promotion of this pipeline")
    if not override and (source.state, source.result) != ("done", "passed"):
        state = f"{source.state}/{source.result}" if source.result else source.state
        raise InvalidInput(
            "override", f"the pipeline has not passed ({state}); set override=true to promote"
        )
    values = _parameters(definition, given or {})
    workflow = await session.get(Workflow, source.workflow_id)
    assert workflow is not None  # pipelines go with their workflow
    now = utcnow()
    promotion = Promotion(
        pipeline_id=source.id,
        name=name,
        status="passed",
        triggered_by=caller.uuid if caller else AUTO,
        override=override,
        triggered_at=now,
    )
    session.add(promotion)
    target = None
    if definition["deployment_target"]:
        target = await session.scalar(
            select(DeploymentTarget).where(
                DeploymentTarget.project_id == source.project_id,
                DeploymentTarget.name == definition["deployment_target"],
            )
        )
        if target is None:
            raise NotFound(f"deployment target {definition['deployment_target']!r} not found")
        refusal = await targets.refusal(session, target, workflow, caller)
        if refusal:
            promotion.status = "failed"
            promotion.error_description = refusal
            await targets.record(session, target, workflow, source, None, caller, values, refusal)
            await session.flush()
            await _audit(session, caller, promotion, source, {"refused": refusal})
            return Outcome(promotion, refused=refusal)
    directory = posixpath.dirname(source.yaml_file_path)
    pipeline = Pipeline(
        workflow_id=source.workflow_id,
        project_id=source.project_id,
        yaml_file_path=posixpath.normpath(posixpath.join(directory, definition["pipeline_file"])),
        promotion_of=source.id,
        promoted_by=caller.username if caller else AUTO_PROMOTER,
        triggerer_user_id=caller.uuid if caller else None,
        parameters=values,
        ancestors=[*source.ancestors, source.id],
        target_id=target.id if target else None,
        created_at=now,
    )
    session.add(pipeline)
    await session.flush()
    promotion.scheduled_pipeline_id = pipeline.id
    promotion.scheduled_at = utcnow()
    if target is not None:
        await targets.record(session, target, workflow, source, pipeline, caller, values, "")
    await session.flush()
    await _audit(session, caller, promotion, source, {"pipeline_id": pipeline.id})
    await wake_engine(session, ctx.wakeups, pipeline.id)
    return Outcome(promotion)


async def _audit(
    session: AsyncSession,
    caller: Principal | None,
    promotion: Promotion,
    source: Pipeline,
    outcome: dict[str, str],
) -> None:
    resource = audit.Resource("promotion", promotion.id, promotion.name, source.project_id)
    details = {"source_pipeline_id": source.id, "override": promotion.override, **outcome}
    await audit.record(session, caller, "triggered", resource, details)


async def auto_promote(session: AsyncSession, ctx: EngineContext, pipeline: Pipeline) -> None:
    """Once a pipeline is done: every promotion whose `auto_promote.when` holds starts."""
    automatic = [d for d in pipeline.promotions if d["auto_promote"] is not None]
    if not automatic:
        return
    workflow = await session.get(Workflow, pipeline.workflow_id)
    project = await session.get(Project, pipeline.project_id)
    assert workflow is not None
    assert project is not None
    facts = RunFacts.of(pipeline, workflow, project)
    repo = ctx.mirrors.for_project(project)

    def decide() -> list[tuple[str, str]]:
        when = Conditions(
            repo, facts, pipeline.result or "", pipeline.result_reason or "", in_promotion=True
        )
        chosen = []
        for definition in automatic:
            try:
                if when(definition["auto_promote"]):
                    chosen.append((definition["name"], ""))
            except (WhenError, OSError) as exc:
                chosen.append((definition["name"], f"auto_promote condition: {exc}"))
        return chosen

    for name, error in await asyncio.to_thread(decide):
        if error:
            session.add(
                Promotion(
                    pipeline_id=pipeline.id,
                    name=name,
                    status="failed",
                    triggered_by=AUTO,
                    error_description=error,
                )
            )
            continue
        try:
            await promote(session, ctx, pipeline, name, caller=None)
        except (InvalidInput, NotFound) as exc:
            session.add(
                Promotion(
                    pipeline_id=pipeline.id,
                    name=name,
                    status="failed",
                    triggered_by=AUTO,
                    error_description=exc.message,
                )
            )
