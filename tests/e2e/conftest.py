"""End-to-end tests: jobs of the real agents may run as another user (see let_jobs_reach)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import let_jobs_reach


@pytest.fixture(autouse=True)
def _reachable_tmp_path(tmp_path: Path) -> None:
    let_jobs_reach(tmp_path)
