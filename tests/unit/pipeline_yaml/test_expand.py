"""Matrix and parallelism expansion: exact names, order and environment variables."""

import pytest

from blockpost.pipeline_yaml import PipelineInvalid, parse_pipeline
from blockpost.pipeline_yaml.expand import expand_task

HEAD = "version: v1.0\nagent: {machine: {type: e1-standard-2}}\nblocks:\n  - name: B\n    task:\n"


def expanded(jobs_yaml: str, parameters: dict[str, str] | None = None) -> list[tuple]:
    pipeline = parse_pipeline(HEAD + "      jobs:\n" + jobs_yaml)
    return [
        (job.index, job.name, [(env.name, env.value) for env in job.env_vars])
        for job in expand_task(pipeline.blocks[0].task, parameters)
    ]


def test_matrix_is_a_cartesian_product_first_axis_slowest_env_appended() -> None:
    jobs = """        - name: matrix job 1
          commands: [make]
          env_vars: [{name: OWN, value: "1"}]
          matrix:
            - {env_var: ERLANG, values: ["18", "19"]}
            - {env_var: PYTHON, values: ["2.7", "3.4"]}
"""
    assert expanded(jobs) == [
        (
            0,
            "matrix job 1 - ERLANG=18, PYTHON=2.7",
            [("OWN", "1"), ("ERLANG", "18"), ("PYTHON", "2.7")],
        ),
        (
            1,
            "matrix job 1 - ERLANG=18, PYTHON=3.4",
            [("OWN", "1"), ("ERLANG", "18"), ("PYTHON", "3.4")],
        ),
        (
            2,
            "matrix job 1 - ERLANG=19, PYTHON=2.7",
            [("OWN", "1"), ("ERLANG", "19"), ("PYTHON", "2.7")],
        ),
        (
            3,
            "matrix job 1 - ERLANG=19, PYTHON=3.4",
            [("OWN", "1"), ("ERLANG", "19"), ("PYTHON", "3.4")],
        ),
    ]


def test_parallelism_numbers_jobs_from_one_with_count_then_index() -> None:
    jobs = """        - name: Rspec
          parallelism: 4
          commands: [rspec]
          env_vars: [{name: A, value: x}]
"""
    assert expanded(jobs) == [
        (
            i - 1,
            f"Rspec - {i}/4",
            [("A", "x"), ("SEMAPHORE_JOB_COUNT", "4"), ("SEMAPHORE_JOB_INDEX", str(i))],
        )
        for i in range(1, 5)
    ]


def test_plain_jobs_keep_their_names_and_indices_continue_across_jobs() -> None:
    jobs = """        - {name: First, commands: [a]}
        - {name: Split, commands: [b], parallelism: 2}
        - {commands: [c]}
"""
    assert [(index, name) for index, name, _ in expanded(jobs)] == [
        (0, "First"),
        (1, "Split - 1/2"),
        (2, "Split - 2/2"),
        (3, "Nameless 1"),
    ]


PARAMETERIZED = """        - name: Deploy
          commands: [deploy]
          matrix:
            - env_var: REGION
              values: "%{{ parameters.REGIONS | splitList \\",\\" }}"
        - name: Shards
          parallelism: "${{ parameters.SHARDS | int64 }}"
          commands: [run]
"""


def test_parameter_expressions_expand_with_the_promotion_parameters() -> None:
    names = [name for _, name, _ in expanded(PARAMETERIZED, {"REGIONS": "eu,us", "SHARDS": "2"})]
    assert names == ["Deploy - REGION=eu", "Deploy - REGION=us", "Shards - 1/2", "Shards - 2/2"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"REGIONS": "", "SHARDS": "2"}, "must not be empty"),
        ({"REGIONS": "eu", "SHARDS": "x"}, "not an integer"),
        # int() reads these as 3, 2 and 1000; Go's ParseInt, which Semaphore uses, does not
        ({"REGIONS": "eu", "SHARDS": "٣"}, "not an integer"),
        ({"REGIONS": "eu", "SHARDS": "²"}, "not an integer"),
        ({"REGIONS": "eu", "SHARDS": "1_000"}, "not an integer"),
        ({"REGIONS": "eu", "SHARDS": "9" * 5000}, "not an integer"),
        ({"REGIONS": "eu", "SHARDS": "-3"}, "parallelism must be 1 to 50, got -3"),
        ({"REGIONS": "eu", "SHARDS": str(2**63)}, "not an integer"),
    ],
)
def test_parameter_values_that_do_not_fit_are_reported(parameters: dict, message: str) -> None:
    with pytest.raises(PipelineInvalid, match=message):
        expanded(PARAMETERIZED, parameters)


def test_a_matrix_too_large_is_refused_before_it_is_made() -> None:
    axis = 'values: "%{{ parameters.MANY | splitList \\",\\" }}"'
    jobs = f"""        - name: Huge
          commands: [c]
          matrix:
            - {{env_var: A, {axis}}}
            - {{env_var: B, {axis}}}
            - {{env_var: C, {axis}}}
"""
    with pytest.raises(PipelineInvalid, match="Matrix product size"):  # not 10**18 jobs
        expanded(jobs, {"MANY": ",".join(["x"] * 1_000_000)})
