"""`curl -d key=value` bodies become the JSON objects the routes validate."""

import json

from blockpost.api.middleware import form_to_json


def decoded(body: str) -> object:
    return json.loads(form_to_json(body.encode()))


def test_flat_form_becomes_an_object_of_strings() -> None:
    assert decoded("project_id=p1&reference=refs%2Fheads%2Fmain") == {
        "project_id": "p1",
        "reference": "refs/heads/main",
    }


def test_dotted_keys_nest_and_repeated_keys_make_lists() -> None:
    assert decoded("metadata.name=s1-aws&spec.repository.url=%2Ftmp%2Fr&a=1&a=2&b[]=x") == {
        "metadata": {"name": "s1-aws"},
        "spec": {"repository": {"url": "/tmp/r"}},
        "a": ["1", "2"],
        "b": ["x"],
    }


def test_json_sent_with_a_form_content_type_stays_json() -> None:
    assert decoded('  {"only_idle": false}') == {"only_idle": False}


def test_blank_values_are_kept() -> None:
    assert decoded("description=") == {"description": ""}
