"""blockpost's agent and container jobs: finding an engine, the engine calls a job makes,
and never the host when there is no engine."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from blockpost.agent import containers
from blockpost.agent.containers import Container, Pod, PodFailed
from blockpost.agent.runner import JobRunner
from blockpost.agent.sandbox import Isolation
from blockpost.agent.workspace import Workspace, base_environment

JOB_ID = "6b1c3f9e-0000-4000-8000-000000000001"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Events:
    """Stands in for the log shipper: keeps what the job would have logged."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})

    def plain(self) -> str:
        """The log as Semaphore's plain text shows it."""
        text = []
        for event in self.events:
            if event["event"] == "cmd_started":
                text.append(event["directive"] + "\n")
            elif event["event"] == "cmd_output":
                text.append(event["output"])
        return "".join(text)


def container_payload(**compose: Any) -> dict[str, Any]:
    return {
        "job_id": JOB_ID,
        "executor": "dockercompose",
        "compose": {
            "containers": [
                {
                    "name": "main",
                    "image": "ruby:3.3",
                    "command": "",
                    "entrypoint": "",
                    "user": "",
                    "env_vars": [{"name": "RAILS_ENV", "value": b64("test")}],
                },
                {
                    "name": "db",
                    "image": "postgres:16",
                    "command": "postgres -c fsync=off",
                    "entrypoint": "",
                    "user": "postgres",
                    "env_vars": [{"name": "POSTGRES_PASSWORD", "value": b64("s3cret")}],
                },
            ],
            "image_pull_credentials": [],
            "host_setup_commands": [],
            **compose,
        },
        "env_vars": [{"name": "GREETING", "value": b64("hello")}],
        "files": [],
        "commands": [{"directive": 'echo "$GREETING from $(type -t checkout)"'}],
        "epilogue_always_commands": [{"directive": 'echo "always: $SEMAPHORE_JOB_RESULT"'}],
    }


def fake_engine(directory: Path, *, answers: bool = True) -> tuple[Path, Path]:
    """A `docker` that records its calls; `run -i` starts a bash here (standing in for the
    job's container), `ps` lists one container."""
    directory.mkdir(parents=True, exist_ok=True)
    calls = directory / "calls.jsonl"
    script = directory / "docker"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"if sys.argv[1:2] == ['info']: sys.exit({0 if answers else 1})\n"
        "if sys.argv[1:3] == ['run', '-i']:\n"
        "    os.execvp('bash', ['bash', '--noprofile', '--norc'])\n"
        "if sys.argv[1:2] == ['ps']: print('c0ffee')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, calls


def recorded(calls: Path) -> list[list[str]]:
    return [json.loads(line) for line in calls.read_text().splitlines()]


def test_a_job_asks_for_containers_by_its_executor_or_its_containers() -> None:
    assert containers.requested({"executor": "dockercompose"})
    assert containers.requested({"executor": "", "compose": {"containers": [{"name": "m"}]}})
    assert not containers.requested({"executor": "", "compose": {"containers": []}})
    assert not containers.requested({"executor": ""})


def test_without_an_engine_a_container_job_is_refused_with_the_reason() -> None:
    assert containers.refusal(container_payload(), None) == containers.REFUSAL
    assert containers.refusal(container_payload(), "/usr/bin/docker") == ""
    assert containers.refusal({"executor": "dockercompose"}, "/usr/bin/docker") == (
        "this container job names no containers"
    )


async def test_an_engine_is_a_client_whose_engine_answers(tmp_path: Path) -> None:
    assert await containers.find_engine({"PATH": str(tmp_path / "empty")}) is None
    fake_engine(tmp_path / "down", answers=False)
    assert await containers.find_engine({"PATH": str(tmp_path / "down")}) is None
    script, _ = fake_engine(tmp_path / "up")
    assert await containers.find_engine({"PATH": str(tmp_path / "up")}) == str(script)


def test_command_and_entrypoint_are_split_as_docker_compose_splits_them() -> None:
    plain = Container("db", "postgres:16", command="postgres -c 'shared_buffers=1MB'")
    assert plain.program() == ["postgres:16", "postgres", "-c", "shared_buffers=1MB"]
    entry = Container("db", "postgres:16", entrypoint="/entry.sh --fast", command="serve")
    assert entry.program() == ["--entrypoint", "/entry.sh", "postgres:16", "--fast", "serve"]
    assert entry.program(["bash"]) == ["--entrypoint", "/entry.sh", "postgres:16", "--fast", "bash"]


def test_env_files_hold_values_of_one_line_only() -> None:
    assert containers.env_file([("A", "x y=z"), ("B", "")]) == b"A=x y=z\nB=\n"
    with pytest.raises(PodFailed, match="KEY has a line break"):
        containers.env_file([("KEY", "-----BEGIN\nEND-----")])


def test_image_pull_credentials_log_in_with_the_password_on_stdin() -> None:
    def credentials(**env: str) -> dict[str, Any]:
        return {"env_vars": [{"name": k, "value": b64(v)} for k, v in env.items()], "files": []}

    generic = credentials(
        DOCKER_CREDENTIAL_TYPE="GenericDocker",
        DOCKER_URL="registry.example.com",
        DOCKER_USERNAME="ci",
        DOCKER_PASSWORD="pw",
    )
    assert containers.login("docker", generic) == (
        ["docker", "login", "--username", "ci", "--password-stdin", "registry.example.com"],
        b"pw",
    )
    hub = credentials(
        DOCKER_CREDENTIAL_TYPE="DockerHub", DOCKERHUB_USERNAME="me", DOCKERHUB_PASSWORD="pw"
    )
    assert containers.login("docker", hub)[0] == [
        "docker",
        "login",
        "--username",
        "me",
        "--password-stdin",
    ]
    gcr = credentials(DOCKER_CREDENTIAL_TYPE="GCR", GCR_HOSTNAME="gcr.io")
    gcr["files"] = [{"path": "/tmp/gcr/keyfile.json", "content": b64("{key}"), "mode": "0644"}]
    assert containers.login("docker", gcr) == (
        ["docker", "login", "--username", "_json_key", "--password-stdin", "https://gcr.io"],
        b"{key}",
    )
    with pytest.raises(PodFailed, match="AWS_ECR are not supported"):
        containers.login("docker", credentials(DOCKER_CREDENTIAL_TYPE="AWS_ECR"))
    with pytest.raises(PodFailed, match="DOCKER_USERNAME is not set"):
        containers.login("docker", credentials(DOCKER_CREDENTIAL_TYPE="GenericDocker"))


def test_the_jobs_shell_runs_in_its_first_container_with_the_control_files(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path / "jobs", JOB_ID, None)
    pod = Pod("docker", container_payload(), workspace, {}, Events())  # type: ignore[arg-type]
    control = str(workspace.control)
    assert pod.shell_command() == [
        "docker",
        "run",
        "-i",
        "--rm",
        "--label",
        f"blockpost.job={JOB_ID}",
        "--network",
        f"blockpost-{JOB_ID}",
        "--network-alias",
        "main",
        "-v",
        f"{control}:{control}:ro,z",
        "--env-file",
        str(pod.private / "main.env"),
        "ruby:3.3",
        "bash",
        "--noprofile",
        "--norc",
    ]
    shutil.rmtree(pod.private)


async def test_without_an_engine_a_container_job_fails_at_once_and_never_on_the_host(
    tmp_path: Path,
) -> None:
    events = Events()
    workspace = Workspace(tmp_path / "jobs", JOB_ID, None)
    payload = container_payload()
    marker = tmp_path / "ran-on-the-host"
    payload["commands"] = [{"directive": f"touch {marker}"}]
    runner = JobRunner(payload, workspace, Isolation(), {}, events, engine=None)  # type: ignore[arg-type]
    assert await runner.run() == "failed"
    assert runner.reason == containers.REFUSAL
    assert events.plain() == f"Starting the docker image...\n{containers.REFUSAL}\n"
    assert [e["event"] for e in events.events][-1] == "job_finished"
    assert not marker.exists()
    assert not workspace.root.exists()


async def test_a_container_job_starts_its_services_runs_in_its_container_and_cleans_up(
    tmp_path: Path,
) -> None:
    engine, calls = fake_engine(tmp_path / "bin")
    events = Events()
    workspace = Workspace(tmp_path / "jobs", JOB_ID, None)
    env = base_environment(workspace, None, source={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    runner = JobRunner(container_payload(), workspace, Isolation(), env, events, engine=str(engine))  # type: ignore[arg-type]
    pod = runner.pod
    assert pod is not None
    service_env = pod.private / "service-1.env"
    envs_seen: dict[str, str] = {}
    original_remove = pod.remove

    async def remove_after_looking() -> None:
        envs_seen["main"] = (pod.private / "main.env").read_text()
        envs_seen["service"] = service_env.read_text()
        await original_remove()

    pod.remove = remove_after_looking  # type: ignore[method-assign]
    assert await runner.run() == "passed"
    log = events.plain()
    assert (
        "Pulling docker images...\nruby:3.3 is here already\npostgres:16 is here already\n" in log
    )
    assert "Starting the docker image...\nStarting a new bash session.\n" in log
    assert "hello from function\n" in log  # the job's env and `checkout` are in its shell
    assert "always: passed\n" in log
    network = f"blockpost-{JOB_ID}"
    label = f"blockpost.job={JOB_ID}"
    made = recorded(calls)
    assert made[:4] == [
        ["image", "inspect", "ruby:3.3"],
        ["image", "inspect", "postgres:16"],
        ["network", "create", "--label", label, network],
        [
            "run",
            "--detach",
            "--label",
            label,
            "--network",
            network,
            "--network-alias",
            "db",
            "--env-file",
            str(service_env),
            "--user",
            "postgres",
            "postgres:16",
            "postgres",
            "-c",
            "fsync=off",
        ],
    ]
    assert made[4][:2] == ["run", "-i"]
    assert made[5:] == [
        ["ps", "-aq", "--filter", f"label={label}"],
        ["kill", "c0ffee"],
        ["rm", "-f", "c0ffee"],
        ["network", "rm", network],
    ]
    assert envs_seen == {
        "main": "LANG=C.UTF-8\nTERM=xterm\nRAILS_ENV=test\n",
        "service": "POSTGRES_PASSWORD=s3cret\n",
    }
    assert not pod.private.exists()
    assert not workspace.root.exists()


async def test_a_failing_pull_fails_the_job_before_any_command(tmp_path: Path) -> None:
    engine, calls = fake_engine(tmp_path / "bin")
    engine.write_text(
        engine.read_text().replace(
            "if sys.argv[1:2] == ['ps']", "if sys.argv[1] in ('image', 'pull'): sys.exit(1)\nif 0"
        )
    )
    events = Events()
    workspace = Workspace(tmp_path / "jobs", JOB_ID, None)
    runner = JobRunner(container_payload(), workspace, Isolation(), {}, events, engine=str(engine))  # type: ignore[arg-type]
    assert await runner.run() == "failed"
    assert runner.reason == "pulling ruby:3.3 failed"
    assert "hello" not in events.plain()
    assert not any(call[:2] == ["run", "-i"] for call in recorded(calls))
