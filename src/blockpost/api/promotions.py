"""Promotions (`/api/v1alpha/promotions`): list a pipeline's, trigger one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.db.models import Pipeline, Promotion
from blockpost.engine import promotions
from blockpost.errors import InvalidInput
from blockpost.services import projects, workflows
from blockpost.timefmt import seconds_nanos

router = APIRouter(prefix="/api/v1alpha/promotions", tags=["promotions"])
TRIGGERED = "Promotion successfully triggered."  # Semaphore's answer, word for word
TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no", ""}


def promotion_json(promotion: Promotion) -> dict[str, Any]:
    return {
        "triggered_by": promotion.triggered_by,
        "triggered_at": seconds_nanos(promotion.triggered_at),
        "status": promotion.status,
        "scheduled_pipeline_id": promotion.scheduled_pipeline_id,
        "scheduled_at": seconds_nanos(promotion.scheduled_at),
        "override": promotion.override,
        "name": promotion.name,
    }


@router.get("")
async def list_promotions(
    session: SessionDep,
    caller: CallerDep,
    pipeline_id: Annotated[str, Query(min_length=1, max_length=100)],
) -> list[dict[str, Any]]:
    """The pipeline's promotions, manual and automatic, newest first."""
    pipeline = await workflows.visible_pipeline(session, caller, pipeline_id)
    rows = await session.scalars(
        select(Promotion)
        .where(Promotion.pipeline_id == pipeline.id)
        .order_by(Promotion.triggered_at.desc())
    )
    return [promotion_json(row) for row in rows]


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(key, "is required and must be a string")
    return value


def _override(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in TRUE | FALSE:
        return value.lower() in TRUE
    raise InvalidInput("override", "must be true or false")


@router.post("", response_model=None)
async def trigger_promotion(
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
    body: Annotated[
        dict[str, Any],
        Body(
            description="`pipeline_id`, `name`, optional `override`; any other field is a "
            "promotion parameter (JSON or form)",
            examples=[{"pipeline_id": "…", "name": "Production", "override": False}],
        ),
    ],
) -> str | JSONResponse:
    """Starts the promotion's pipeline and answers Semaphore's `"Promotion successfully
    triggered."` (the new pipeline is the promotion's `scheduled_pipeline_id`). 400 when the
    pipeline has not passed (unless `override`), the name is no promotion of it, or a
    parameter is missing or not one of its options; 403 when its deployment target refuses
    (recorded in the target's history)."""
    pipeline = await projects.runnable_child(
        session, caller, Pipeline, _text(body, "pipeline_id"), "pipeline"
    )
    given = {k: v for k, v in body.items() if k not in {"pipeline_id", "name", "override"}}
    for key, value in given.items():
        if not isinstance(value, str):
            raise InvalidInput(key, "a promotion parameter must be a string")
    outcome = await promotions.promote(
        session,
        engine,
        pipeline,
        _text(body, "name"),
        caller=caller,
        override=_override(body.get("override", False)),
        given=given,
    )
    if outcome.refused:
        # a normal return, so the refusal stays in the target's history
        return JSONResponse({"message": outcome.refused}, status_code=403)
    return TRIGGERED
