"""`sem-service start|stop|status NAME [VERSION] [options]`: a database or broker for the
job, as Semaphore's toolbox starts it (its services, default versions, ports, options and
messages), from the service's official image with docker or podman.

The port is published on 127.0.0.1 only; `start` returns once the service listens. The
container is named after the job (`sem-<job id>-<name>`), so that `status` and `stop` find
it and two jobs on one machine do not meet. Without an engine that answers, every action
fails (exit 1) saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from typing import Callable, Dict, NamedTuple

ENGINES = ("docker", "podman")
LABEL = "blockpost.job"  # as the agent labels a container job's containers
PROBE_TIMEOUT = 10
PULL_TIMEOUT = 30 * 60
CALL_TIMEOUT = 120
READY_TIMEOUT = 120.0
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
OPTION = re.compile(r"--(username|password|db)(?:=(.*))?")
USAGE = """
sem-service [start|stop|status] [service] [version]

Available services:
"""

Options = Dict[str, str]


class Service(NamedTuple):
    image: str  # the official image, tagged with the version
    default: str  # Semaphore's default version
    ports: tuple[int, ...]  # published on 127.0.0.1; the first is waited for
    environment: Callable[[str, Options], list[str]]  # (version, options) -> KEY=VALUE
    arguments: tuple[str, ...]  # after the image
    banner: Callable[[str, Options], list[str]]  # what `start` says once it is up


def _postgres(version: str, options: Options) -> list[str]:
    # Semaphore's image takes any password over its loopback-only port; the official
    # one does that with trust, unless the job chose a password.
    env = ["POSTGRES_PASSWORD=" + (options.get("password") or "semaphore")]
    if "password" not in options:
        env.append("POSTGRES_HOST_AUTH_METHOD=trust")
    if options.get("username"):
        env.append("POSTGRES_USER=" + options["username"])
    if options.get("db"):
        env.append("POSTGRES_DB=" + options["db"])
    return env


def _mysql(version: str, options: Options) -> list[str]:
    user, password = options.get("username", ""), options.get("password", "")
    env = ["MYSQL_DATABASE=" + (options.get("db") or "test")]
    if user in ("", "root"):
        env.append(
            "MYSQL_ROOT_PASSWORD=" + password if password else "MYSQL_ALLOW_EMPTY_PASSWORD=yes"
        )
    else:
        env += [
            "MYSQL_USER=" + user,
            "MYSQL_PASSWORD=" + password,
            "MYSQL_ALLOW_EMPTY_PASSWORD=yes",
        ]
    return env


def _mongodb(version: str, options: Options) -> list[str]:
    env = []
    if options.get("username"):
        env.append("MONGO_INITDB_ROOT_USERNAME=" + options["username"])
    if options.get("password"):
        env.append("MONGO_INITDB_ROOT_PASSWORD=" + options["password"])
    return env


def _search(version: str, options: Options) -> list[str]:
    return ["discovery.type=single-node"]


def _opensearch(version: str, options: Options) -> list[str]:
    env = _search(version, options)
    if _major(version) >= 3:
        env.append("OPENSEARCH_INITIAL_ADMIN_PASSWORD=Semaphore123!")
    return env


def _none(version: str, options: Options) -> list[str]:
    return []


def _major(version: str) -> int:
    found = re.match(r"\d+", version)
    return int(found.group()) if found else 0


def _says(template: str, *more: str) -> Callable[[str, Options], list[str]]:
    return lambda version, options: [template.format(version=version), *more]


def _opensearch_banner(version: str, options: Options) -> list[str]:
    password = "Semaphore123!" if _major(version) >= 3 else "admin"
    return [
        f"Opensearch {version} is accessible at 127.0.0.1:9200 Username: admin, "
        f"Password: {password}"
    ]


POSTGRES_ACCESS = "To access it use username 'postgres' and blank password."
SERVICES: dict[str, Service] = {
    "postgres": Service(
        "postgres",
        "9.6",
        (5432,),
        _postgres,
        (),
        _says("PostgreSQL {version} is running at 127.0.0.1:5432", POSTGRES_ACCESS),
    ),
    "postgis": Service(
        "postgis/postgis",
        "9.6-2.5",
        (5432,),
        _postgres,
        (),
        _says("PostgreSQL with postgis {version} is running at 127.0.0.1:5432", POSTGRES_ACCESS),
    ),
    "mysql": Service(
        "mysql",
        "5.6",
        (3306,),
        _mysql,
        (),
        _says(
            "MySQL {version} is running at 127.0.0.1:3306",
            "To access it use username 'root' and blank password.",
        ),
    ),
    "redis": Service(
        "redis",
        "4.0",
        (6379,),
        _none,
        ("--appendonly", "yes"),
        _says("Redis {version} is running at 127.0.0.1:6379"),
    ),
    "valkey": Service(
        "valkey/valkey",
        "8.1",
        (6379,),
        _none,
        ("--appendonly", "yes"),
        _says("Valkey {version} is running at 127.0.0.1:6379"),
    ),
    "memcached": Service(
        "memcached",
        "1.5",
        (11211,),
        _none,
        (),
        _says("memcached {version} is running at 127.0.0.1:11211"),
    ),
    "mongodb": Service(
        "mongo",
        "4.1",
        (27017,),
        _mongodb,
        (),
        _says("mongodb {version} is running at 127.0.0.1:27017"),
    ),
    "elasticsearch": Service(
        "elasticsearch",
        "6.5",
        (9200, 9300),
        _search,
        (),
        _says("elasticsearch {version} is accessible at 127.0.0.1:9200 and 127.0.0.1:9300"),
    ),
    "opensearch": Service(
        "opensearchproject/opensearch", "2", (9200,), _opensearch, (), _opensearch_banner
    ),
    "rabbitmq": Service(
        "rabbitmq",
        "3.8",
        (5672,),
        _none,
        (),
        _says("rabbitmq {version} is accessible at 127.0.0.1:5672"),
    ),
    "cassandra": Service(
        "cassandra",
        "3.11",
        (9042,),
        _none,
        (),
        _says("cassandra {version} is accessible at 127.0.0.1:9042"),
    ),
    "rethinkdb": Service(
        "rethinkdb",
        "2.3",
        (28015,),
        _none,
        (),
        _says("rethinkdb {version} is accessible at 127.0.0.1:28015"),
    ),
}
# The search engines take engine options as Semaphore's do (`-e "ES_JAVA_OPTS=…"`).
PASS_THROUGH = ("elasticsearch", "opensearch")


class Failed(Exception):
    """The action failed; the message says why."""


class Request(NamedTuple):
    action: str
    name: str
    version: str
    options: Options
    engine_arguments: list[str]


def usage() -> str:
    lines = [f"{name} (default: {service.default})" for name, service in SERVICES.items()]
    return USAGE + "\n".join(lines) + "\n"


def parse(arguments: list[str]) -> Request:
    """The command line as Semaphore's reads it: the version is the first word after the
    name unless that starts with '-'; --username/--password/--db with '=' or a value."""
    if len(arguments) < 2 or arguments[0] not in ("start", "stop", "status"):
        raise Failed("usage")
    action, name, rest = arguments[0], arguments[1], list(arguments[2:])
    if name not in SERVICES:
        raise Failed(f"sem-service doesn't support '{name}'")
    service = SERVICES[name]
    version = service.default
    if rest and not rest[0].startswith("-"):
        version = rest.pop(0)
    if not TAG.fullmatch(version):
        raise Failed(
            f"'{version}' is not a version of {name} (an image tag such as {service.default})"
        )
    options: Options = {}
    passed: list[str] = []
    while rest:
        word = rest.pop(0)
        option = OPTION.fullmatch(word)
        if option and name not in PASS_THROUGH:
            value = option.group(2)
            if value is None:
                if not rest:
                    raise Failed(f"--{option.group(1)} needs a value")
                value = rest.pop(0)
            options[option.group(1)] = value
        elif name in PASS_THROUGH:
            passed.append(word)
        else:
            sys.stderr.write(f"sem-service: {name} takes no option '{word}'; ignored\n")
    return Request(action, name, version, options, passed)


def container_name(name: str, env: dict[str, str]) -> str:
    job = re.sub(r"[^A-Za-z0-9_.-]", "-", env.get("SEMAPHORE_JOB_ID", ""))
    return f"sem-{job}-{name}" if job else f"sem-{name}"


def run_command(request: Request, engine: str, env: dict[str, str]) -> list[str]:
    """The engine's `run` for the service: detached, removed when stopped, labelled with
    the job, its ports on 127.0.0.1 only."""
    service = SERVICES[request.name]
    command = [engine, "run", "-d", "--rm", "--name", container_name(request.name, env)]
    if env.get("SEMAPHORE_JOB_ID"):
        command += ["--label", f"{LABEL}={env['SEMAPHORE_JOB_ID']}"]
    for port in service.ports:
        command += ["-p", f"127.0.0.1:{port}:{port}"]
    for variable in service.environment(request.version, request.options):
        command += ["-e", variable]
    command += request.engine_arguments
    command += [f"{service.image}:{request.version}", *service.arguments]
    return command


def listening(proc_net_tcp: str, port: int) -> bool:
    """Whether /proc/net/tcp{,6} text shows a socket listening on the port."""
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if (
            len(fields) > 3
            and fields[3] == "0A"
            and ":" in fields[1]
            and int(fields[1].rsplit(":", 1)[1], 16) == port
        ):
            return True
    return False


def find_engine(env: dict[str, str]) -> str | None:
    """docker or podman, when its engine answers (a client alone is not enough)."""
    for name in ENGINES:
        path = shutil.which(name, path=env.get("PATH", ""))
        if path is None:
            continue
        try:
            done = subprocess.run(
                [path, "info"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=PROBE_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return path
    return None


def _call(
    command: list[str], env: dict[str, str], timeout: float = CALL_TIMEOUT
) -> tuple[int, str]:
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return 124, f"{' '.join(command[:2])} took more than {timeout:.0f} s"
    return done.returncode, done.stdout.decode("utf-8", "replace").strip()


def running(engine: str, container: str, env: dict[str, str]) -> bool:
    code, output = _call([engine, "inspect", "-f", "{{.State.Running}}", container], env)
    return code == 0 and output == "true"


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M %d/%m/%Y')}]: {message}\n")


def start(request: Request, engine: str, env: dict[str, str]) -> None:
    service = SERVICES[request.name]
    container = container_name(request.name, env)
    sys.stdout.write(f"Starting {request.name}...")
    sys.stdout.flush()
    if running(engine, container, env):
        raise Failed(f"\n{request.name} is running already (container {container}): stop it first")
    image = f"{service.image}:{request.version}"
    code, output = _call([engine, "pull", image], env, PULL_TIMEOUT)
    if code != 0:
        raise Failed(f"\nFailed to pull {image}:\n{output}")
    code, output = _call(run_command(request, engine, env), env)
    if code != 0:
        raise Failed(f"\nFailed to start {image}:\n{output}")
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        code, output = _call(
            [engine, "exec", container, "cat", "/proc/net/tcp", "/proc/net/tcp6"], env
        )
        if listening(output, service.ports[0]):
            break
        if not running(engine, container, env) or time.monotonic() > deadline:
            _code, logs = _call([engine, "logs", "--tail", "50", container], env)
            raise Failed(
                f"\n{request.name} did not listen on port {service.ports[0]} within "
                f"{READY_TIMEOUT:.0f} s; its last log lines:\n{logs}"
            )
        time.sleep(0.5)
    sys.stdout.write("done.\n")
    for line in service.banner(request.version, request.options):
        sys.stdout.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        request = parse(arguments)
    except Failed as exc:
        if str(exc) != "usage":
            sys.stderr.write(f"sem-service: {exc}\n")
        sys.stderr.write(usage())
        return 1
    env = dict(os.environ)
    engine = find_engine(env)
    if engine is None:
        sys.stderr.write(
            f"sem-service: cannot {request.action} {request.name}: no container engine is "
            "available to this job (neither docker nor podman is installed with an engine "
            "that answers `info`); sem-service runs each service in a container\n"
        )
        return 1
    container = container_name(request.name, env)
    try:
        if request.action == "start":
            start(request, engine, env)
        elif request.action == "status":
            if not running(engine, container, env):
                log(f"'{request.name}' not running.")
                return 1
            log(f"{request.name} running.")
        elif running(engine, container, env):
            code, output = _call([engine, "stop", container], env)
            if code != 0:
                raise Failed(f"Failed to stop {container}:\n{output}")
            log(f"'{request.name}' stopped.")
        else:
            log(f"No running service with name '{request.name}' was found. Skipping.")
    except Failed as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0
