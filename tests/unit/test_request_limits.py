"""What requests may hold: ASCII whole numbers a column takes, JSON and forms nested shallowly."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockpost.api.middleware import form_to_json
from blockpost.dispatch.logs import parse_lines
from blockpost.errors import InvalidInput
from blockpost.storable import INT64_MAX, INT_MAX, json_too_deep, whole_number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        (str(INT_MAX), INT_MAX),
        (str(INT_MAX + 1), None),
        ("9" * 40, None),
        ("9" * 5000, None),  # int() would raise ValueError past 4,300 digits
        ("²", None),  # str.isdigit() is true for it
        ("١٢", None),  # int() reads it as 12
        ("\uff11\uff12", None),  # fullwidth digits, also 12 to int()
        (" 12", None),
        ("1_000", None),
        ("-1", None),
        ("+1", None),
        ("", None),
    ],
)
def test_whole_numbers_are_ascii_digits_within_the_column(text: str, number: int | None) -> None:
    assert whole_number(text) == number


def test_a_wider_maximum_is_honoured() -> None:
    assert whole_number(str(INT64_MAX), INT64_MAX) == INT64_MAX
    assert whole_number(str(INT64_MAX + 1), INT64_MAX) is None


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\ a,:\n\u2028é', max_size=8)
json_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, limit=st.sampled_from([1, 2, 3, 5]), ascii_only=st.booleans())
def test_json_depth_is_measured_as_the_parser_would_see_it(
    value: Any, limit: int, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_too_deep(text, limit) == (depth(value) > limit)


def test_deep_json_is_found_without_recursion_and_brackets_in_strings_are_text() -> None:
    assert json_too_deep(b"[" * 1_000_000 + b"]" * 1_000_000)
    assert json_too_deep(b"[[]" * 100_000)  # unbalanced: the parser recurses all the same
    assert not json_too_deep(b'["' + b"[" * 1_000_000 + b'"]')
    assert not json_too_deep(b'["\\\\", "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]')
    nested = b"[" * 32 + b"]" * 32
    assert not json_too_deep(nested)
    assert json_too_deep(b"[" + nested + b"]")


def test_forms_become_json_within_bounds() -> None:
    assert json.loads(form_to_json(b"metadata.name=x&spec.repository.url=y&a[]=1&a[]=2")) == {
        "metadata": {"name": "x"},
        "spec": {"repository": {"url": "y"}},
        "a": ["1", "2"],
    }
    sixteen_parts = ".".join(["k"] * 16) + "=1"
    assert json.loads(form_to_json(sixteen_parts.encode()))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ("a." * 100_000 + "a=1", "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.…: "),
        (
            "&".join("a." * depth + "b=1" for depth in range(1000)),
            "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.b: a form key has at most 16 parts",
        ),
        ("&".join(f"k{n}=1" for n in range(100_000)), "body: a form has at most 1000 fields"),
    ],
)
def test_forms_nested_deep_or_with_many_fields_are_refused(form: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        form_to_json(form.encode())
    assert refused.value.message.startswith(message)


def test_a_log_line_nested_too_deep_is_refused_naming_the_line() -> None:
    fine = '{"event": "cmd_output", "timestamp": 1, "output": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}'
    assert parse_lines(fine) == [fine]
    with pytest.raises(InvalidInput) as refused:
        parse_lines(fine + "\n" + "[" * 100_000 + "]" * 100_000)
    assert refused.value.message == "line 2: is nested deeper than 32 levels"
