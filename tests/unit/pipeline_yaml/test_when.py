"""The `when` language: parse trees, evaluation, and errors with their column."""

import pytest

from blockpost.pipeline_yaml.when import WhenContext, WhenError, evaluate, parse

PARSE_TREES = [
    ("branch = 'master'", "(= branch 'master')"),
    ("BRANCH = 'master'", "(= branch 'master')"),
    ("'master' = branch", "(= 'master' branch)"),
    ("tag =~ '^v1\\.'", "(=~ tag '^v1\\.')"),
    ("pull_request !~ '.*'", "(!~ pull_request '.*')"),
    ("result != 'failed'", "(!= result 'failed')"),
    ("result_reason = 'test'", "(= result_reason 'test')"),
    ("true", "true"),
    ("FALSE", "false"),
    ("branch = 'a' or branch = 'b'", "(or (= branch 'a') (= branch 'b'))"),
    ("branch = 'a' AND tag = 'b'", "(and (= branch 'a') (= tag 'b'))"),
    # and/or share one precedence and group to the left, as in Semaphore's parser.
    (
        "branch = 'a' or branch = 'b' and result = 'passed'",
        "(and (or (= branch 'a') (= branch 'b')) (= result 'passed'))",
    ),
    (
        "branch = 'a' or (branch = 'b' and result = 'passed')",
        "(or (= branch 'a') (and (= branch 'b') (= result 'passed')))",
    ),
    ("'prod' = 'prod'", "(= 'prod' 'prod')"),
    ("change_in('/lib')", "(change_in '/lib')"),
    (
        "change_in(['/a', '/b'], {exclude: ['/a/docs'], on_tags: false})",
        "(change_in ['/a', '/b'] {'exclude': ['/a/docs'], 'on_tags': False})",
    ),
    ("change_in('/lib') = true", "(= (change_in '/lib') true)"),
    # as Semaphore's compiler: an empty list, one string for exclude, unknown options
    ("change_in([])", "(change_in [])"),
    (
        "change_in('/a', {exclude: '/a/docs', colour: 'red'})",
        "(change_in '/a' {'exclude': '/a/docs', 'colour': 'red'})",
    ),
]


@pytest.mark.parametrize(("text", "tree"), PARSE_TREES)
def test_conditions_parse_into_the_expected_tree(text: str, tree: str) -> None:
    assert str(parse(text)) == tree


BRANCH_MAIN = WhenContext(branch="main")
TAG_V1 = WhenContext(tag="v1.2.0")
PR_7 = WhenContext(pull_request="7")
DONE = WhenContext(branch="main", result="passed", result_reason="test")

EVALUATIONS = [
    ("branch = 'main'", BRANCH_MAIN, True),
    ("branch = 'main'", TAG_V1, False),  # on a tag build `branch` is empty
    ("branch = 'main'", PR_7, False),  # and on a pull request too
    ("branch != 'main'", PR_7, True),
    ("tag =~ '.*'", TAG_V1, True),
    ("tag =~ '.*'", BRANCH_MAIN, True),  # unanchored: matches the empty string
    ("tag =~ '^v'", BRANCH_MAIN, False),
    ("tag =~ '^v1\\.'", TAG_V1, True),
    ("'^v1' =~ tag", TAG_V1, True),
    ("pull_request =~ '^[0-9]+$'", PR_7, True),
    ("branch !~ '^dev/'", WhenContext(branch="dev/x"), False),
    ("result = 'passed' and branch = 'main'", DONE, True),
    ("result = 'failed' or result_reason = 'test'", DONE, True),
    ("branch = 'x' or branch = 'main' and result = 'failed'", DONE, False),
    ("branch = 'x' or (branch = 'main' and result = 'passed')", DONE, True),
    ("true", BRANCH_MAIN, True),
    ("false or true", BRANCH_MAIN, True),
    ("'prod' = 'prod'", BRANCH_MAIN, True),
]


@pytest.mark.parametrize(("text", "context", "expected"), EVALUATIONS)
def test_conditions_evaluate_against_the_run(
    text: str, context: WhenContext, expected: bool
) -> None:
    assert evaluate(text, context) is expected


def test_yaml_booleans_need_no_parsing() -> None:
    assert evaluate(True, WhenContext()) is True
    assert evaluate(False, WhenContext()) is False


def test_change_in_asks_the_context_with_patterns_and_options() -> None:
    calls = []

    def change_in(patterns: list[str], options: dict) -> bool:
        calls.append((patterns, options))
        return patterns == ["/lib"]

    context = WhenContext(branch="main", change_in=change_in)
    assert evaluate("change_in('/lib', {default_branch: 'main'})", context) is True
    assert evaluate("change_in(['/docs'])", context) is False
    assert calls == [(["/lib"], {"default_branch": "main"}), (["/docs"], {})]
    with pytest.raises(WhenError, match="change_in needs the commits"):
        evaluate("change_in('/lib')", WhenContext())


BAD = [
    ("", "empty condition", 1),
    ("branch = master", "expected a quoted string such as 'main', found 'master'", 10),
    ('branch = "master"', "unexpected character '\"'", 10),
    ("branch = ''", "empty string '' is not allowed", 10),
    ("branch = 'main", "unterminated string", 10),
    ("branch 'main'", "expected an operator (=, !=, =~, !~), found 'main'", 8),
    ("branch = 'a' And tag = 'b'", "expected 'and', 'or' or the end, found 'And'", 14),
    ("(branch = 'a'", "expected ')', found end of condition", 14),
    ("branch = 'a' or", "expected a condition, found end of condition", 16),
    ("'main'", "expected a condition, found the value 'main'", 1),
    ("branch =~ '['", "invalid regular expression", 11),
    ("foo('x')", "unknown function 'foo'", 1),
    ("change_in(1)", "change_in patterns must be a string or a list of strings", 1),
    ("change_in('/a', {exclude: ['/b', 1]})", "'exclude' must be a string or a list of", 1),
    ("change_in('/a', 'main')", "change_in options must be a map", 1),
    ("change_in('/a', {branch_range: 'a b'})", "'branch_range' must be a commit range", 1),
    ("change_in('/a', {pipeline_file: 'maybe'})", "must be 'track' or 'ignore'", 1),
    ("branch = tag", "expected a quoted string such as 'main', found 'tag'", 10),
    ("branch = 'a' # comment", "unexpected character '#'", 14),
]


@pytest.mark.parametrize(("text", "message", "column"), BAD)
def test_bad_conditions_report_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(WhenError) as caught:
        parse(text)
    assert message in str(caught.value)
    assert caught.value.column == column


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(WhenError, match="nested deeper"):
        parse("(" * 500 + "true" + ")" * 500)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (" and ".join(["branch = 'a'"] * 20_000), "more than 100 conditions in one expression"),
        (" = ".join(["change_in('/a')"] * 20_000), "more than 100 conditions in one expression"),
        ("change_in(" + "[" * 20_000 + "'/a'" + "]" * 20_000 + ")", "nested deeper than 50"),
        ("change_in('/a', {exclude: " + "{a: " * 20_000 + "})", "nested deeper than 50"),
        ("change_in('/a', {exclude: " + "9" * 5000 + "})", "number longer than 20 digits"),
        ("branch =~ '" + "(" * 20_000 + "a" + ")" * 20_000 + "'", "regular expression too large"),
        ("branch =~ 'a{4294967296}'", "regular expression too large"),
    ],
)
def test_conditions_too_long_or_deep_to_walk_are_refused_not_a_crash(
    text: str, message: str
) -> None:
    with pytest.raises(WhenError, match=message):
        parse(text)


def test_the_longest_condition_allowed_parses_walks_and_evaluates() -> None:
    longest = " or ".join([f"branch = 'b{n}'" for n in range(99)] + ["branch = 'main'"])
    tree = parse(longest)
    assert str(tree).startswith("(or (or (or ")
    assert evaluate(longest, BRANCH_MAIN) is True
    assert evaluate(tree, TAG_V1) is False
