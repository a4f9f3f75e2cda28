"""Secret values in pushed log lines are stored masked."""

from __future__ import annotations

import json

from blockpost.dispatch.logs import mask_secrets


def output(text: str, **dumps: bool) -> str:
    return json.dumps({"event": "cmd_output", "timestamp": 1, "output": text}, **dumps)


def stored(lines: list[str]) -> list[str]:
    return [json.loads(line)["output"] for line in lines]


def test_values_are_masked_whatever_json_spelling_the_agent_used() -> None:
    values = ['pa"ss\\word', "clé-secrète", "abcd"]
    lines = [
        output('x pa"ss\\word y\n'),
        output("clé-secrète\n"),  # \u00e9 escapes
        output("clé-secrète\n", ensure_ascii=False),  # raw UTF-8
        output("abcdabcd\n"),
    ]
    assert stored(mask_secrets(lines, values)) == [
        "x [secret] y\n",
        "[secret]\n",
        "[secret]\n",
        "[secret][secret]\n",
    ]


def test_a_longer_value_is_masked_before_one_it_contains() -> None:
    masked = mask_secrets([output("token-1234-extra\n")], ["token-1234", "token-1234-extra"])
    assert stored(masked) == ["[secret]\n"]


def test_short_values_and_lines_without_values_are_left_exactly_as_pushed() -> None:
    lines = [output("yes no\n"), '{"event": "cmd_output",  "timestamp": 1, "output": "as is"}']
    assert mask_secrets(lines, ["yes", ""]) == lines
    assert mask_secrets(lines, ["secret-value"]) == lines
