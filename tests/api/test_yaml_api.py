"""POST /api/v1alpha/yaml answers as Semaphore does, and lists every error with path and line."""

from pathlib import Path

import httpx

DATA = Path(__file__).resolve().parents[1] / "data" / "pipelines"
VALID = (DATA / "valid" / "09_matrix_two_axes.yml").read_text()
INVALID = (DATA / "invalid" / "48_many_errors_at_once.yml").read_text()


async def test_a_valid_definition_gets_semaphores_answer(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/v1alpha/yaml", json={"yaml_definition": VALID})
    assert response.status_code == 200
    assert response.json() == {"pipeline_id": "", "message": "YAML definition is valid."}


async def test_form_bodies_work_like_semaphores_curl_example(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/v1alpha/yaml", data={"yaml_definition": VALID})
    assert response.status_code == 200


async def test_an_invalid_definition_lists_every_error(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/v1alpha/yaml", json={"yaml_definition": INVALID})
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("line 7: #/agent/machine: Required property type")
    assert body["message"].endswith("(and 3 more errors)")
    assert body["errors"] == [
        {
            "path": "#/agent/machine",
            "line": 7,
            "message": "Required property type was not present.",
        },
        {
            "path": "#/blocks/0/dependencies/0",
            "line": 10,
            "message": "Block 'A' depends on 'Z', but no block has that name.",
        },
        {
            "path": "#/blocks/0/task/jobs/0/commands/0",
            "line": 14,
            "message": "Type mismatch. Expected String but got Integer.",
        },
        {
            "path": "#/blocks/1/task/jobs",
            "line": 18,
            "message": "Expected a minimum of 1 items but got 0.",
        },
    ]


async def test_bad_requests_name_the_field(alice: httpx.AsyncClient) -> None:
    missing = await alice.post("/api/v1alpha/yaml", json={})
    assert missing.json() == {"message": "yaml_definition: is required"}
    wrong = await alice.post("/api/v1alpha/yaml", json={"yaml_definition": ["a"]})
    assert wrong.json()["message"].startswith("yaml_definition: Input should be a valid string")
    rerun = await alice.post(
        "/api/v1alpha/yaml", json={"yaml_definition": VALID, "pipeline_id": "p-1"}
    )
    assert rerun.status_code == 400
    assert rerun.json()["message"].startswith("pipeline_id: rerunning a pipeline")


async def test_yaml_bombs_are_refused_with_a_400(alice: httpx.AsyncClient) -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(7)
    )
    response = await alice.post("/api/v1alpha/yaml", json={"yaml_definition": bomb})
    assert response.status_code == 400
    assert "expands to more than" in response.json()["errors"][0]["message"]
