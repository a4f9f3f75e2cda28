"""`POST /api/v1alpha/yaml`: validate a pipeline definition without running it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, Field

from blockpost.api.deps import CallerDep
from blockpost.api.request_model import RequestModel
from blockpost.errors import InvalidInput
from blockpost.pipeline_yaml import PipelineInvalid, validate_pipeline

router = APIRouter(prefix="/api/v1alpha", tags=["yaml"])


class YamlIn(RequestModel):
    yaml_definition: str = Field(description="the pipeline YAML, as text")
    pipeline_id: str = Field(
        default="", description="Semaphore reruns that pipeline with the definition; not supported"
    )


class YamlOut(BaseModel):
    pipeline_id: str
    message: str


class YamlErrorOut(BaseModel):
    path: str = Field(description="JSON pointer, e.g. #/blocks/1/task/jobs/0/commands")
    line: int | None
    message: str


class YamlInvalidOut(BaseModel):
    message: str
    errors: list[YamlErrorOut] = Field(
        default_factory=list,
        description="every problem in the YAML; absent when the request itself is malformed",
    )


@router.post(
    "/yaml",
    response_model=YamlOut,
    responses={400: {"model": YamlInvalidOut, "description": "every problem, with its path"}},
)
async def validate_yaml(body: YamlIn, _caller: CallerDep) -> YamlOut:
    """Checks the definition the way a run would, reporting every error with path and line."""
    if body.pipeline_id:
        raise InvalidInput(
            "pipeline_id", "rerunning a pipeline with a new definition is not supported"
        )
    # A 300-block file takes tens of milliseconds to check: keep the event loop free.
    errors = await asyncio.to_thread(validate_pipeline, body.yaml_definition)
    if errors:
        raise PipelineInvalid(errors)
    return YamlOut(pipeline_id="", message="YAML definition is valid.")
