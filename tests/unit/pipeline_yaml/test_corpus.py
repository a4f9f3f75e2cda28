"""Our corpus (tests/data/pipelines) and Semaphore's own schema fixtures, file by file."""

from pathlib import Path

import pytest

from blockpost.pipeline_yaml import parse_pipeline, validate_pipeline

DATA = Path(__file__).resolve().parents[2] / "data" / "pipelines"
FILES = DATA / "files"
SEMAPHORE_FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "reference" / "yaml-fixtures"
VALID = sorted((DATA / "valid").glob("*.yml"))
INVALID = sorted((DATA / "invalid").glob("*.yml"))

# Files Semaphore's schema accepts that blockpost rejects, and why. Both reasons would also
# stop the pipeline on Semaphore at run time; blockpost says so before the run.
KNOWN_DIVERGENCES = {
    "v1.0-complete.yml": [
        "#/fail_fast/stop/when: Invalid 'when' condition",  # `branch != master` lacks quotes
        "#/blocks/0/task/boosters: boosters are a retired Semaphore feature",
    ],
}


def read_file(path: str) -> str:
    return (FILES / path).read_text()


def expectations(path: Path) -> list[tuple[str, str]]:
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            pointer, _, message = line.removeprefix("# expect: ").partition(" | ")
            found.append((pointer, message))
    return found


def test_the_corpus_is_large_enough() -> None:
    assert len(VALID) >= 40
    assert len(INVALID) >= 40
    assert all(expectations(path) for path in INVALID)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_file_has_no_errors_and_builds(path: Path) -> None:
    text = path.read_text()
    assert validate_pipeline(text, read_file=read_file) == []
    pipeline = parse_pipeline(text, read_file=read_file)
    assert pipeline.blocks


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_file_reports_exactly_the_expected_errors(path: Path) -> None:
    errors = validate_pipeline(path.read_text(), read_file=read_file)
    expected = expectations(path)
    assert len(errors) == len(expected), [str(e) for e in errors]
    for pointer, message in expected:
        assert any(e.path == pointer and e.message.startswith(message) for e in errors), (
            pointer,
            message,
            [str(e) for e in errors],
        )
    assert all(error.line is not None for error in errors if error.path != "#")


def semaphore_fixtures() -> list[Path]:
    return sorted(SEMAPHORE_FIXTURES.glob("*.yml")) if SEMAPHORE_FIXTURES.is_dir() else []


@pytest.mark.skipif(not semaphore_fixtures(), reason="../shared/reference/yaml-fixtures not beside")
@pytest.mark.parametrize("path", semaphore_fixtures(), ids=lambda p: p.name)
def test_semaphores_own_fixtures_are_judged_as_semaphore_judges_them(path: Path) -> None:
    errors = [f"{e.path}: {e.message}" for e in validate_pipeline(path.read_text())]
    if path.name in KNOWN_DIVERGENCES:
        expected = KNOWN_DIVERGENCES[path.name]
        assert len(errors) == len(expected), errors
        for prefix in expected:
            assert any(error.startswith(prefix) for error in errors), (prefix, errors)
    elif path.name.endswith(".fail.yml"):
        assert errors, "Semaphore rejects this file"
    else:
        assert errors == []
