"""The Dockerfile and compose file only use settings and commands that exist."""

import re
import shlex
from pathlib import Path

import yaml

from blockpost.cli import _parser
from blockpost.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTING = re.compile(r"\bBLOCKPOST_([A-Z_]+)")


def known_settings() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_every_blockpost_variable_in_the_deploy_files_is_a_setting() -> None:
    for name in ("Dockerfile", "docker-compose.yml"):
        used = set(SETTING.findall((ROOT / name).read_text()))
        assert used, name
        assert used <= known_settings(), (name, used - known_settings())


def test_container_commands_parse_as_blockpost_commands() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    server = compose["services"]["server"]
    assert server["command"][0] == "blockpost"
    _parser().parse_args(server["command"][1:])
    assert server["environment"]["BLOCKPOST_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "service_healthy" in str(server["depends_on"])

    cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    assert cmd
    args = yaml.safe_load(cmd.group(1))
    assert args[0] == "blockpost"
    _parser().parse_args(args[1:])


def test_the_ci_script_runs_the_readme_test_command_on_both_back_ends() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test" in readme
    assert "scripts/serve" in readme
    runs = [
        line
        for line in ci.splitlines()
        if "scripts/test -p" in line and not line.lstrip().startswith("#")
    ]
    assert len(runs) == 2  # the install step before them runs `scripts/test --version`
    assert any("BLOCKPOST_DATABASE_URL=" in shlex.split(line)[0] for line in runs)
