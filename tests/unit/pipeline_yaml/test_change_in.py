"""change_in path matching: roots, relative paths, globs, exclusions, the pipeline file."""

import pytest

from blockpost.pipeline_yaml.change_in import change_in_matches, resolve

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
    ],
)
def test_changed_files_match_patterns(patterns, options, files, expected) -> None:
    assert (
        change_in_matches(patterns, options, changed_files=files, pipeline_file=PIPELINE)
        is expected
    )
