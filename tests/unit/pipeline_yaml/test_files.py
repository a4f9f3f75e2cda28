"""commands_file and task_file are read through the reader, and problems in them reported."""

import pytest

from blockpost.pipeline_yaml import PipelineInvalid, parse_pipeline, validate_pipeline

PIPELINE = """version: v1.0
agent: {machine: {type: e1-standard-2}}
global_job_config:
  epilogue:
    on_fail:
      commands_file: debug.sh
blocks:
  - name: Unit
    task:
      jobs:
        - name: Tests
          commands_file: ci/test.sh
  - name: Integration
    task_file: ci/integration.yml
"""


def reader(files: dict[str, str]):
    def read(path: str) -> str:
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[path]

    return read


def test_files_are_read_into_the_model() -> None:
    files = {
        "debug.sh": "cat log\n",
        "ci/test.sh": "make deps\n\n  make test  \n",
        "ci/integration.yml": "jobs:\n  - name: Int\n    commands: [make int]\n",
    }
    pipeline = parse_pipeline(PIPELINE, read_file=reader(files))
    assert pipeline.blocks[0].task.jobs[0].commands == ("make deps", "  make test  ")
    assert pipeline.blocks[1].task.jobs[0].name == "Int"
    assert pipeline.blocks[1].dependencies == ("Unit",)
    assert pipeline.global_job_config.epilogue.on_fail == ("cat log",)


def test_missing_and_broken_files_are_reported_where_they_are_named() -> None:
    files = {"ci/integration.yml": "jobs:\n  - name: Int\n    commandz: [make]\n"}
    errors = {e.path: e.message for e in validate_pipeline(PIPELINE, read_file=reader(files))}
    assert errors["#/global_job_config/epilogue/on_fail/commands_file"].startswith(
        "commands_file 'debug.sh' cannot be read: No such file"
    )
    assert errors["#/blocks/0/task/jobs/0/commands_file"].startswith("commands_file 'ci/test.sh'")
    assert "in task_file 'ci/integration.yml'" in errors["#/blocks/1/task_file"]
    assert "'commandz' is not a known key" in errors["#/blocks/1/task_file"]


def test_without_a_reader_validation_checks_only_the_file_itself() -> None:
    assert validate_pipeline(PIPELINE) == []
    with pytest.raises(PipelineInvalid, match="cannot be read"):
        parse_pipeline(PIPELINE)
