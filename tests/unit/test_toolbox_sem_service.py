"""sem-service's pure parts: Semaphore's services, defaults and options, the engine command
it makes, and how it knows a service listens; without an engine it fails clearly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blockpost.agent.toolbox import sem_service
from blockpost.agent.toolbox.sem_service import SERVICES, Failed

TOOLBOX = Path(sem_service.__file__).parent
JOB = {"SEMAPHORE_JOB_ID": "0b3e2a6c-1111-2222-3333-444455556666"}


def test_semaphores_services_have_its_default_versions_and_ports() -> None:
    table = {name: (service.default, service.ports) for name, service in SERVICES.items()}
    assert table == {
        "postgres": ("9.6", (5432,)),
        "postgis": ("9.6-2.5", (5432,)),
        "mysql": ("5.6", (3306,)),
        "redis": ("4.0", (6379,)),
        "valkey": ("8.1", (6379,)),
        "memcached": ("1.5", (11211,)),
        "mongodb": ("4.1", (27017,)),
        "elasticsearch": ("6.5", (9200, 9300)),
        "opensearch": ("2", (9200,)),
        "rabbitmq": ("3.8", (5672,)),
        "cassandra": ("3.11", (9042,)),
        "rethinkdb": ("2.3", (28015,)),
    }


def test_the_version_is_the_word_after_the_name_unless_it_is_an_option() -> None:
    assert sem_service.parse(["start", "postgres"]).version == "9.6"
    assert sem_service.parse(["start", "postgres", "14"]).version == "14"
    request = sem_service.parse(["start", "postgres", "--username=app", "--db", "shop"])
    assert (request.version, request.options) == ("9.6", {"username": "app", "db": "shop"})
    assert sem_service.parse(["status", "redis"]).action == "status"
    with pytest.raises(Failed, match="doesn't support 'oracle'"):
        sem_service.parse(["start", "oracle"])
    with pytest.raises(Failed, match="usage"):
        sem_service.parse(["restart", "redis"])
    with pytest.raises(Failed, match="is not a version of redis"):
        sem_service.parse(["start", "redis", "6;rm"])


def test_postgres_runs_the_official_image_on_loopback_named_after_the_job() -> None:
    request = sem_service.parse(["start", "postgres", "14", "--username=app", "--db=shop"])
    assert sem_service.run_command(request, "docker", JOB) == [
        "docker", "run", "-d", "--rm",
        "--name", f"sem-{JOB['SEMAPHORE_JOB_ID']}-postgres",
        "--label", f"blockpost.job={JOB['SEMAPHORE_JOB_ID']}",
        "-p", "127.0.0.1:5432:5432",
        "-e", "POSTGRES_PASSWORD=semaphore",
        "-e", "POSTGRES_HOST_AUTH_METHOD=trust",
        "-e", "POSTGRES_USER=app",
        "-e", "POSTGRES_DB=shop",
        "postgres:14",
    ]  # fmt: skip
    chosen = sem_service.parse(["start", "postgres", "--password=secret"])
    assert "POSTGRES_HOST_AUTH_METHOD=trust" not in sem_service.run_command(chosen, "podman", {})


def test_mysql_mongodb_and_the_search_engines_take_semaphores_options() -> None:
    def env(*arguments: str) -> list[str]:
        command = sem_service.run_command(sem_service.parse(["start", *arguments]), "docker", {})
        return [command[at + 1] for at, word in enumerate(command) if word == "-e"]

    assert env("mysql") == ["MYSQL_DATABASE=test", "MYSQL_ALLOW_EMPTY_PASSWORD=yes"]
    assert env("mysql", "8.0", "--password=pw") == ["MYSQL_DATABASE=test", "MYSQL_ROOT_PASSWORD=pw"]
    assert env("mysql", "--username=u", "--password=p", "--db=d") == [
        "MYSQL_DATABASE=d",
        "MYSQL_USER=u",
        "MYSQL_PASSWORD=p",
        "MYSQL_ALLOW_EMPTY_PASSWORD=yes",
    ]
    assert env("mongodb", "--username=root", "--password=pw") == [
        "MONGO_INITDB_ROOT_USERNAME=root",
        "MONGO_INITDB_ROOT_PASSWORD=pw",
    ]
    assert env("opensearch", "3.5.0")[-1] == "OPENSEARCH_INITIAL_ADMIN_PASSWORD=Semaphore123!"
    search = sem_service.parse(["start", "elasticsearch", "7.17.7", "-e", "ES_JAVA_OPTS=-Xmx1g"])
    command = sem_service.run_command(search, "docker", {})
    assert command[-3:] == ["-e", "ES_JAVA_OPTS=-Xmx1g", "elasticsearch:7.17.7"]
    redis = sem_service.run_command(sem_service.parse(["start", "redis"]), "docker", {})
    assert redis[-3:] == ["redis:4.0", "--appendonly", "yes"]


def test_a_service_listens_once_proc_net_tcp_shows_its_port_in_listen_state() -> None:
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    established = (
        "   0: 0100007F:1538 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000 999\n"
    )
    assert not sem_service.listening(header + established, 5432)
    listen = "   1: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000 999\n"
    assert sem_service.listening(header + listen, 5432)
    assert not sem_service.listening(header + listen, 6379)
    six = "   0: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A\n"
    assert sem_service.listening(header + six, 6379)


def test_without_an_engine_every_action_fails_saying_so(tmp_path: Path) -> None:
    # A PATH with python3 and what the wrapper uses, and no docker or podman.
    (tmp_path / "python3").symlink_to(sys.executable)
    for tool in ("sh", "dirname"):
        (tmp_path / tool).symlink_to(str(shutil.which(tool)))
    for action in ("start", "status", "stop"):
        done = subprocess.run(
            [str(TOOLBOX / "bin/sem-service"), action, "redis"],
            capture_output=True,
            text=True,
            env={"PATH": str(tmp_path)},
        )
        assert done.returncode == 1
        assert f"cannot {action} redis: no container engine is available to this job" in done.stderr
