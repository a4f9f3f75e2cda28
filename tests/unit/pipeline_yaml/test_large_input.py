"""Files past the limits are reported like any other mistake: never a crash of the caller."""

from pathlib import Path

import pytest

from blockpost import cli
from blockpost.pipeline_yaml import validate_pipeline

HEAD = "version: v1.0\nagent: {machine: {type: e1-standard-2}}\nblocks:\n"


def chained_blocks(count: int, *, cycle: bool = False) -> str:
    """Block n depends on block n+1; with `cycle`, the last depends on the first."""
    return HEAD + "".join(
        f"  - name: b{n}\n    dependencies: [b{(n + 1) % count if cycle else n + 1}]\n"
        "    task: {jobs: [{commands: [x]}]}\n"
        for n in range(count)
    )


def test_a_dependency_chain_thousands_of_blocks_long_is_checked_without_recursion() -> None:
    errors = [e.message for e in validate_pipeline(chained_blocks(5000))]
    assert errors == [
        "Expected a maximum of 300 items but got 5000.",
        "Block 'b4999' depends on 'b5000', but no block has that name.",
    ]
    cycle = [e.message for e in validate_pipeline(chained_blocks(5000, cycle=True))]
    assert cycle[1].startswith("Circular dependency between blocks detected: 'b0' → 'b4999' → ")


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (" and ".join(["branch = 'a'"] * 20_000), "more than 100 conditions in one expression"),
        ("change_in('/a', {exclude: " + "9" * 5000 + "})", "number longer than 20 digits"),
    ],
)
def test_blockpost_validate_prints_conditions_too_long_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], when: str, message: str
) -> None:
    file = tmp_path / "semaphore.yml"
    file.write_text(
        HEAD + f'  - name: B\n    run:\n      when: "{when}"\n'
        "    task: {jobs: [{commands: [x]}]}\n"
    )
    assert cli.main(["validate", str(file)]) == 1
    printed = capsys.readouterr().out
    assert printed.startswith(f"{file}:6: #/blocks/0/run/when: Invalid 'when' condition")
    assert message in printed
