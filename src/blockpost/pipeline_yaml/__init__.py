"""Semaphore pipeline YAML v1.0: load safely, validate fully, build typed definitions, expand jobs.

Depends on nothing above it: no FastAPI, no database.
"""

from blockpost.pipeline_yaml.errors import PipelineInvalid, YamlError
from blockpost.pipeline_yaml.validate import FileReader, parse_pipeline, validate_pipeline

__all__ = ["FileReader", "PipelineInvalid", "YamlError", "parse_pipeline", "validate_pipeline"]
