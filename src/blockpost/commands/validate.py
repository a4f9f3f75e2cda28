"""`blockpost validate FILE…`: pipeline YAML checked without a server or a database."""

from __future__ import annotations

from pathlib import Path

from blockpost.pipeline_yaml import validate_pipeline


def validate(files: list[Path]) -> int:
    """Prints `FILE:LINE: PATH: message` for each error; 0 when every file is valid."""
    failed = False
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{file}:1: #: cannot read the file: {exc}")
            failed = True
            continue

        def read_beside(name: str, folder: Path = file.parent) -> str:
            return (folder / name).read_text(encoding="utf-8")

        errors = validate_pipeline(text, read_file=read_beside)
        for error in errors:
            print(f"{file}:{error.line or 1}: {error.path}: {error.message}")
        if errors:
            failed = True
        else:
            print(f"{file}: valid")
    return 1 if failed else 0
