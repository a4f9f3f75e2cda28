"""The `blockpost` command: users, tokens and schema commands against a real database."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from blockpost.db.engine import Database
from tests.support.server import ServerProcess, free_port

pytestmark = pytest.mark.e2e


def blockpost(
    *args: str, data_dir: Path, database_url: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BLOCKPOST_DATABASE_URL": database_url,
        "BLOCKPOST_DATA_DIR": str(data_dir),
        **(env or {}),
    }
    if not database_url:
        del env["BLOCKPOST_DATABASE_URL"]
    return subprocess.run(
        [sys.executable, "-m", "blockpost", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_user_and_token_commands_make_a_working_login(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    made = blockpost(
        "user", "create", "ops", "--admin", database_url=database_url, data_dir=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("created admin user ops with password ")
    password = made.stdout.strip().rsplit(" ", 1)[1]

    token = blockpost("token", "create", "ops", database_url=database_url, data_dir=tmp_path)
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()

    again = blockpost("user", "create", "ops", database_url=database_url, data_dir=tmp_path)
    assert again.returncode == 1
    assert "username: a user with this username already exists" in again.stderr

    unknown = blockpost("token", "create", "ghost", database_url=database_url, data_dir=tmp_path)
    assert unknown.returncode == 1
    assert "no user named 'ghost'" in unknown.stderr

    server = ServerProcess(database_url, tmp_path / "server").start()
    try:
        me = httpx.get(f"{server.url}/api/user", headers={"Authorization": f"Token {secret}"})
        assert me.status_code == 200
        assert me.json()["username"] == "ops"
        assert me.json()["admin"] is True
        login = httpx.post(
            f"{server.url}/api/auth/login", json={"auth": "ops", "password": password}
        )
        assert login.status_code == 204
    finally:
        server.stop()


def test_db_commands_report_the_revision(db: Database, database_url: str, tmp_path: Path) -> None:
    current = blockpost("db", "current", database_url=database_url, data_dir=tmp_path)
    assert current.returncode == 0, current.stderr
    assert current.stdout.startswith("schema revision: ")
    assert current.stdout.strip() != "schema revision: empty"


def test_a_bad_database_url_is_named_once_without_its_password(tmp_path: Path) -> None:
    url = "mysql://ci:hunter2@db.example.com/ci"
    result = blockpost("db", "current", database_url=url, data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "blockpost: setting database_url (BLOCKPOST_DATABASE_URL): Value error, must start with "
        "sqlite+aiosqlite:// or postgresql+asyncpg:// (got 'mysql://ci:***@db.example.com/ci')\n"
    )


def test_a_malformed_s3_artifact_store_is_a_settings_error(tmp_path: Path) -> None:
    env = {"BLOCKPOST_ARTIFACT_STORE": "s3://bucket/Two/Segments"}
    result = blockpost("db", "current", data_dir=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "blockpost: setting artifact_store (BLOCKPOST_ARTIFACT_STORE): Value error, "
        "the prefix must be one path segment"
    )
    assert "Traceback" not in result.stderr


def test_out_of_range_settings_name_the_variable_and_the_value(tmp_path: Path) -> None:
    result = blockpost("db", "current", data_dir=tmp_path, env={"BLOCKPOST_PORT": "70000"})
    assert result.returncode == 2
    assert result.stderr.startswith("blockpost: setting port (BLOCKPOST_PORT): Input should be")
    assert "(got '70000')" in result.stderr


def test_an_unreachable_database_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://ci:hunter2@127.0.0.1:{free_port()}/nowhere"
    result = blockpost("serve", database_url=url, data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "blockpost: cannot use the database postgresql+asyncpg://ci:***@"
    )
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


def test_validate_prints_file_line_path_message_and_exits_1_on_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "version: v1.0\nagent: {machine: {type: e1}}\nblocks:\n"
        "  - name: B\n    task: {jobs: [{name: J, commands_file: run.sh}]}\n"
    )
    (tmp_path / "run.sh").write_text("echo hi\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("version: v1.0\nagent: {machine: {type: e1}}\nblocks: []\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOCKPOST_")}
    run = subprocess.run(
        [sys.executable, "-m", "blockpost", "validate", str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f"{good}: valid",
        f"{bad}:3: #/blocks: Expected a minimum of 1 items but got 0.",
    ]
    assert not (tmp_path / ".blockpost").exists(), "validate needs no data dir"
    only_good = subprocess.run(
        [sys.executable, "-m", "blockpost", "validate", str(good)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert only_good.returncode == 0


def test_json_logs_are_one_object_per_line(db: Database, database_url: str, tmp_path: Path) -> None:
    env = {"BLOCKPOST_LOG_FORMAT": "json", "BLOCKPOST_ACCESS_LOG": "true"}
    server = ServerProcess(database_url, tmp_path / "data", extra_env=env).start()
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
    entries = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    assert entries, server.output()
    assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
    assert any(e["logger"] == "uvicorn.access" and "/healthz" in e["message"] for e in entries)
    assert any(e["logger"] == "uvicorn.error" and "startup" in e["message"] for e in entries)


def test_commands_on_a_server_never_make_a_database_in_the_current_directory(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOCKPOST_")}
    for args in (
        ["token", "create", "admin"],
        ["user", "create", "ops"],
        ["backup", "b.tgz"],
        ["db", "current"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "blockpost", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(
            f"blockpost: no blockpost database at {tmp_path}/.blockpost/blockpost.db in the "
            f"data dir {tmp_path}/.blockpost: run this where `blockpost serve` runs"
        )
        assert list(tmp_path.iterdir()) == []


def test_commands_on_a_server_refuse_an_empty_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = blockpost(
        "token", "create", "admin", database_url=f"sqlite+aiosqlite:///{empty}", data_dir=tmp_path
    )
    assert result.returncode == 1
    assert "is empty: no blockpost server has used it" in result.stderr
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_db_upgrade_prints_each_step(tmp_path: Path) -> None:
    result = blockpost("db", "upgrade", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    steps = result.stderr.splitlines()
    assert steps[0].startswith("blockpost: Running upgrade  -> 0001, ")
    assert all(line.startswith("blockpost: Running upgrade ") for line in steps)
