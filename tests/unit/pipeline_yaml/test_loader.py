"""Loading is safe: bombs, tags, depth and size are refused with a clear error, never a crash."""

import pytest

from blockpost.pipeline_yaml import PipelineInvalid, validate_pipeline
from blockpost.pipeline_yaml.loader import MAX_BYTES, load

BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


def only_error(text: str) -> str:
    errors = validate_pipeline(text)
    assert len(errors) == 1, errors
    return f"{errors[0].path}: {errors[0].message}"


def test_alias_bombs_are_refused() -> None:
    assert "document expands to more than" in only_error(BILLION_LAUGHS)


def test_recursive_aliases_load_as_blank_and_are_then_rejected() -> None:
    assert only_error("a: &x [*x]\n") == "#: Required property 'version' missing or not string"


def test_deep_nesting_is_refused() -> None:
    assert only_error("[" * 5000 + "]" * 5000) == "#: nested deeper than 256 levels"


def test_python_tags_never_construct_objects() -> None:
    refused = validate_pipeline("version: v1.0\nname: !!python/object:os.system x\n")
    assert [(e.path, e.line, e.message) for e in refused] == [
        ("#", 2, "YAML syntax error: Invalid tag: '!!python/object:os.system'")
    ]
    as_data = validate_pipeline("version: v1.0\nname: !!python/object/apply:os.system ['x']\n")
    assert ("#/name", "Type mismatch. Expected String but got Array.") in [
        (e.path, e.message) for e in as_data
    ]


def test_oversized_files_are_refused() -> None:
    assert f"larger than {MAX_BYTES} bytes" in only_error("a: " + "x" * MAX_BYTES)


def test_syntax_errors_carry_the_line() -> None:
    errors = validate_pipeline("version: v1.0\nblocks:\n  - name: [unclosed\n")
    assert errors[0].message.startswith("YAML syntax error")
    assert errors[0].line == 3  # where the bracket opens


def test_empty_and_multi_document_input() -> None:
    assert only_error("") == "#: Empty string is not a valid YAML"
    assert only_error("# only a comment\n") == "#: Empty string is not a valid YAML"
    assert "YAML syntax error" in only_error("a: 1\n---\nb: 2\n")


def test_yaml_1_2_scalars_dates_as_text_and_lines_on_demand() -> None:
    loaded = load("version: v1.0\nenv:\n  when: 2024-01-01\n  flag: yes\n  on: true\n")
    assert loaded.data["env"] == {"when": "2024-01-01", "flag": "yes", "on": True}
    assert loaded.line(("env", "when")) == 3
    assert loaded.line(("env", "missing", 0)) == 2


def test_duplicate_keys_are_refused() -> None:
    message = only_error("version: v1.0\nversion: v1.0\n")
    assert message.startswith("#: YAML syntax error: duplicate mapping key")


def test_load_raises_only_pipeline_invalid() -> None:
    with pytest.raises(PipelineInvalid):
        load("a: b: c")


def nested_maps(levels: int) -> str:
    return "".join(" " * level + "a:\n" for level in range(levels))


@pytest.mark.parametrize(
    "text",
    [
        "- " * 100_000 + "x",  # yaml-rs overflows the C stack on this: a crash, not an error
        "? " * 100_000 + "x",
        "[" * 100_000,
        "{a: " * 100_000,
        nested_maps(257),
        "a:\n" + "  [\n" * 300 + "  ]\n" * 300,
        # 64 aliases of aliases, each 200 levels deep: 12,800 levels once expanded
        "\n".join(
            ["a0: &a0 " + "[" * 200 + "x" + "]" * 200]
            + [f"a{n}: &a{n} " + "[" * 200 + f"*a{n - 1}" + "]" * 200 for n in range(1, 64)]
        ),
    ],
)
def test_nesting_past_256_levels_is_refused_in_every_style(text: str) -> None:
    assert only_error(text) == "#: nested deeper than 256 levels"


def test_nesting_up_to_256_levels_and_reused_anchors_load() -> None:
    assert only_error(nested_maps(256)) == "#: Required property 'version' missing or not string"
    text = "a: &a [[[x]]]\nb: [*a, *a, [*a]]\n"
    assert load(text).data["b"] == [[[["x"]]], [[["x"]]], [[[["x"]]]]]


def test_integers_past_64_bits_are_refused_where_they_are() -> None:
    assert only_error("version: v1.0\nx: [1, " + "9" * 5000 + "]\n") == (
        "#/x/1: integer does not fit in 64 bits"
    )
    assert only_error("version: v1.0\nx: {" + "9" * 40 + ": 1}\n") == (
        "#/x: a key is an integer that does not fit in 64 bits"
    )
    assert only_error(f"x: {-(2**63) - 1}\n") == "#/x: integer does not fit in 64 bits"
    assert load(f"x: [{2**63 - 1}, {-(2**63)}]\n").data == {"x": [2**63 - 1, -(2**63)]}


def test_a_text_checked_for_depth_first_still_reports_syntax_errors() -> None:
    long_line = "version: v1.0\nname: " + "x" * 2000 + "\nblocks: [unclosed\n"
    assert only_error(long_line).startswith("#: YAML syntax error")
