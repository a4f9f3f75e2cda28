"""change_in as Semaphore's compiler reads it: options, commit ranges, path matching."""

from typing import Any

import pytest

from blockpost.pipeline_yaml.change_in import ChangeIn, Revisions, resolve

PIPELINE = ".semaphore/semaphore.yml"


@pytest.mark.parametrize(
    ("pattern", "resolved"),
    [("/lib", "lib"), ("lib", ".semaphore/lib"), ("../web", "web"), ("/", ""), ("../", "")],
)
def test_patterns_resolve_from_root_or_from_the_pipeline_folder(
    pattern: str, resolved: str
) -> None:
    assert resolve(pattern, PIPELINE) == resolved


@pytest.mark.parametrize(
    ("patterns", "options", "files", "expected"),
    [
        (["/lib"], {}, ["lib/a.py"], True),
        (["/lib"], {}, ["library/a.py"], False),
        (["/lib/"], {}, ["lib/deep/x.py"], True),
        (["/docs/*.md"], {}, ["docs/a.md"], True),
        (["/docs/*.md"], {}, ["docs/sub/a.md"], False),
        (["/docs/**/*.md"], {}, ["docs/sub/deep/a.md"], True),
        (["/web", "/package.json"], {}, ["package.json"], True),
        (["/backend"], {"exclude": ["/backend/docs"]}, ["backend/docs/x.md"], False),
        (["/backend"], {"exclude": ["/backend/docs"]}, ["backend/docs/x.md", "backend/a.py"], True),
        (["/lib"], {}, [PIPELINE], True),
        (["/lib"], {"pipeline_file": "ignore"}, [PIPELINE], False),
        (["/"], {}, ["anything.txt"], True),
        (["/lib"], {}, [], False),
        (["/backend"], {"exclude": "/backend/docs"}, ["backend/docs/x.md"], False),
        ([], {}, ["lib/a.py"], False),
        ([], {}, [PIPELINE], True),
        (["/"], {"exclude": ["/.semaphore"]}, [PIPELINE], False),
    ],
)
def test_changed_files_match_patterns(
    patterns: list[str], options: dict[str, Any], files: list[str], expected: bool
) -> None:
    assert ChangeIn.of(patterns, options).matches(files, PIPELINE) is expected


def test_a_single_string_stands_for_a_list_of_one() -> None:
    call = ChangeIn.of("/lib", {"exclude": "/lib/docs"})
    assert (call.patterns, call.exclude) == (("/lib",), ("/lib/docs",))


def test_unknown_options_are_ignored_as_semaphore_ignores_them() -> None:
    call = ChangeIn.of(["/lib"], {"colour": "red", "exclude": ["/lib/docs"]})
    assert call.exclude == ("/lib/docs",)


def test_a_promotion_ignores_the_pipeline_file_unless_told_to_track_it() -> None:
    changed = [PIPELINE]
    assert ChangeIn.of(["/lib"], {}, in_promotion=True).matches(changed, PIPELINE) is False
    tracked = ChangeIn.of(["/lib"], {"pipeline_file": "track"}, in_promotion=True)
    assert tracked.matches(changed, PIPELINE) is True


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"exclude": ["/a", 1]}, "'exclude' must be a string or a list of strings"),
        ({"exclude": 3}, "'exclude' must be a string or a list of strings"),
        ({"pipeline_file": "maybe"}, "'pipeline_file' must be 'track' or 'ignore'"),
        ({"on_tags": "no"}, "'on_tags' must be true or false"),
        ({"default_branch": ["main"]}, "'default_branch' must be a string"),
        ({"default_branch": "-main"}, "'default_branch' '-main' is no branch"),
        ({"branch_range": 5}, "'branch_range' must be a string"),
        ({"branch_range": "a..b..c"}, "'branch_range' must be a commit range"),
        ({"default_range": "--output=/tmp/x..HEAD"}, "'default_range' must be a commit range"),
        ({"default_range": "main...; rm -rf /"}, "'default_range' must be a commit range"),
    ],
)
def test_options_of_the_wrong_kind_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChangeIn.of(["/lib"], options)


def test_patterns_must_be_strings() -> None:
    with pytest.raises(ValueError, match="patterns must be a string or a list of strings"):
        ChangeIn.of(["/lib", 2], {})


SHA = "c" * 40
OWN = f"{'p' * 40}...{SHA}"


@pytest.mark.parametrize(
    ("options", "where", "expected"),
    [
        # defaults: a branch against its merge base with master, master its own change
        ({}, "branch", Revisions("refs/heads/master", SHA, True)),
        ({}, "default", Revisions("p" * 40, SHA, True)),
        ({"default_branch": "main"}, "branch", Revisions("refs/heads/main", SHA, True)),
        (
            {"branch_range": "dev..$SEMAPHORE_GIT_SHA"},
            "branch",
            Revisions("dev", SHA, False),
        ),
        (
            {"branch_range": "$SEMAPHORE_GIT_SHA^...$SEMAPHORE_GIT_SHA"},
            "branch",
            Revisions(f"{SHA}^", SHA, True),
        ),
        ({"branch_range": "$SEMAPHORE_GIT_COMMIT_RANGE"}, "branch", Revisions("p" * 40, SHA, True)),
        ({"branch_range": "dev...main"}, "default", Revisions("p" * 40, SHA, True)),
        ({"default_range": "HEAD~3..HEAD~1"}, "default", Revisions(f"{SHA}~3", f"{SHA}~1", False)),
        ({"default_range": "v1.0"}, "default", Revisions("v1.0", SHA, False)),
        ({"default_range": "HEADS..x"}, "default", Revisions("HEADS", "x", False)),
        # a pull request compares with the default branch whatever the ranges say
        ({"branch_range": "dev..x"}, "pull", Revisions("refs/heads/master", SHA, True)),
    ],
)
def test_ranges_name_the_commits_to_compare(
    options: dict[str, Any], where: str, expected: Revisions
) -> None:
    call = ChangeIn.of(["/lib"], options)
    revisions = call.revisions(
        on_default_branch=where == "default", pull_request=where == "pull", sha=SHA, own_range=OWN
    )
    assert revisions == expected


def test_a_first_commit_has_no_range_of_its_own() -> None:
    call = ChangeIn.of(["/lib"], {})
    assert call.revisions(on_default_branch=True, pull_request=False, sha=SHA, own_range="") is None
