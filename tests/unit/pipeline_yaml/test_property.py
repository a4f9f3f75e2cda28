"""Whatever text arrives, the validator answers with errors, never with another exception."""

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockpost.pipeline_yaml import PipelineInvalid, YamlError, parse_pipeline, validate_pipeline

KEYS = st.sampled_from(
    [
        "version",
        "agent",
        "machine",
        "type",
        "blocks",
        "name",
        "task",
        "jobs",
        "commands",
        "matrix",
        "env_var",
        "values",
        "parallelism",
        "dependencies",
        "skip",
        "run",
        "when",
        "promotions",
        "pipeline_file",
        "execution_time_limit",
        "minutes",
        "queue",
        "epilogue",
        "on_pass",
        "env_vars",
        "value",
        "fail_fast",
        "stop",
        "task_file",
        "commands_file",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 60)
    | st.sampled_from(["v1.0", "e1", "", "a b"])
    | st.text(max_size=12)
    | st.sampled_from(["branch = 'x'", "(", "change_in('/a')", "true"])
)
YAMLISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


def read(path: str) -> str:
    raise FileNotFoundError(2, "none", path)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=YAMLISH)
def test_structured_input_gets_errors_not_exceptions(document: object) -> None:
    text = yaml.safe_dump(document)
    errors = validate_pipeline(text, read_file=read)
    assert all(isinstance(error, YamlError) for error in errors)
    if errors:
        with pytest.raises(PipelineInvalid) as caught:
            parse_pipeline(text, read_file=read)
        assert caught.value.errors == errors
    else:
        parse_pipeline(text, read_file=read)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=200))
def test_arbitrary_text_gets_errors_not_exceptions(text: str) -> None:
    errors = validate_pipeline(text)
    assert all(isinstance(error, YamlError) for error in errors)
