"""Container jobs on blockpost's agent: finding docker or podman, and a job's containers.

The first container is the job's: its commands run in one bash inside it, fed like the
host shell. The others are services, started first, on a network of the job's own where
each is reachable by its name (as Semaphore's agent does with docker compose).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blockpost.agent import logship
from blockpost.agent.logship import LogShipper
from blockpost.agent.shell import BASH
from blockpost.agent.workspace import Workspace

ENGINES = ("docker", "podman")
REFUSAL = "this agent cannot run container jobs: no docker or podman found"
PROBE_TIMEOUT = 10.0
CALL_TIMEOUT = 120.0  # one engine call other than a pull
PULL_TIMEOUT = 30 * 60.0
LABEL = "blockpost.job"
STARTING = "Starting the docker image..."
# What the engine's client needs of the agent's environment: where the engine is, rootless
# podman's runtime and storage. Nothing else of the agent's reaches it, nor the containers.
CLIENT_VARIABLES = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "DBUS_SESSION_BUS_ADDRESS",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "CONTAINERS_CONF",
    "REGISTRY_AUTH_FILE",
)
# The job's base environment names the host's paths and user; in a container the image's
# apply. The rest of it (LANG, TERM, variables the operator passes) goes in.
HOST_ONLY = frozenset({"PATH", "HOME", "USER", "SHELL", "TMPDIR"})
GCR_KEYFILE = "/tmp/gcr/keyfile.json"  # where Semaphore's agent reads a GCR key from


def requested(payload: Mapping[str, Any]) -> bool:
    """The job asks for containers: it must never run on the host."""
    compose = payload.get("compose") or {}
    return payload.get("executor") == "dockercompose" or bool(compose.get("containers"))


def refusal(payload: Mapping[str, Any], engine: str | None) -> str:
    """Why this agent cannot run the container job, or "" when it can."""
    if engine is None:
        return REFUSAL
    if not (payload.get("compose") or {}).get("containers"):
        return "this container job names no containers"
    return ""


def client_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    agent_env = os.environ if source is None else source
    return {name: agent_env[name] for name in CLIENT_VARIABLES if name in agent_env}


async def find_engine(source: Mapping[str, str] | None = None) -> str | None:
    """The path of a docker or podman whose engine answers, or None."""
    env = client_environment(source)
    for name in ENGINES:
        binary = shutil.which(name, path=env.get("PATH"))
        if binary is not None and await _answers(binary, env):
            return binary
    return None


async def _answers(binary: str, env: dict[str, str]) -> bool:
    # A client alone is not enough: docker is often installed with no daemon reachable.
    try:
        process = await asyncio.create_subprocess_exec(
            binary,
            "info",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return False
    try:
        return await asyncio.wait_for(process.wait(), PROBE_TIMEOUT) == 0
    except TimeoutError:
        process.kill()
        await process.wait()
        return False


async def remove_services(engine: str, job: str) -> None:
    """Removes the containers a host job started with `sem-service` (labelled with the job):
    its services end with it, as they do with Semaphore's throwaway machine."""

    async def engine_output(*argv: str) -> str:
        process = await asyncio.create_subprocess_exec(
            engine,
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=client_environment(),
        )
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                output, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            return ""
        return output.decode("utf-8", "replace")

    with contextlib.suppress(OSError):
        listed = await engine_output("ps", "-aq", "--filter", f"label={LABEL}={job}")
        for container in listed.split():
            await engine_output("rm", "-f", container)


class PodFailed(Exception):
    """A step before the job's commands failed; the message says which and why."""


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: str = ""
    entrypoint: str = ""
    user: str = ""
    env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_payload(cls, item: Mapping[str, Any]) -> Container:
        return cls(
            name=str(item["name"]),
            image=str(item["image"]),
            command=str(item.get("command") or ""),
            entrypoint=str(item.get("entrypoint") or ""),
            user=str(item.get("user") or ""),
            env=_decoded(item.get("env_vars") or []),
        )

    def run_options(self) -> list[str]:
        return ["--user", self.user] if self.user else []

    def program(self, command: Sequence[str] | None = None) -> list[str]:
        """Image and arguments as docker compose reads `entrypoint` and `command` strings:
        split like a shell; an entrypoint drops the image's command, as in compose.
        `command` replaces the container's own (the job's bash)."""
        args = list(command) if command is not None else shlex.split(self.command)
        if not self.entrypoint:
            return [self.image, *args]
        entrypoint = shlex.split(self.entrypoint)
        return ["--entrypoint", entrypoint[0], self.image, *entrypoint[1:], *args]


def _decoded(env_vars: Sequence[Mapping[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(e["name"]), base64.b64decode(e.get("value", "")).decode("utf-8", "replace"))
        for e in env_vars
    )


def env_file(pairs: Sequence[tuple[str, str]]) -> bytes:
    """An --env-file: values stay out of argv, where any local user could read them. Such a
    file holds one line per variable, so a value with a line break cannot travel in it."""
    for name, value in pairs:
        if "\n" in value or "\r" in value:
            raise PodFailed(f"{name} has a line break, which a container's env file cannot hold")
    return "".join(f"{name}={value}\n" for name, value in pairs).encode()


def login(engine: str, credentials: Mapping[str, Any]) -> tuple[list[str], bytes]:
    """The login one set of image pull credentials asks for (Semaphore's strategies), and
    the password it reads from stdin."""
    env = dict(_decoded(credentials.get("env_vars") or []))
    kind = env.get("DOCKER_CREDENTIAL_TYPE", "")

    def given(name: str) -> str:
        if not env.get(name):
            raise PodFailed(f"image pull credentials of type {kind}: {name} is not set")
        return env[name]

    if kind == "DockerHub":
        user, password, registry = given("DOCKERHUB_USERNAME"), given("DOCKERHUB_PASSWORD"), ""
    elif kind == "GenericDocker":
        user, password = given("DOCKER_USERNAME"), given("DOCKER_PASSWORD")
        registry = given("DOCKER_URL")
    elif kind == "GCR":
        keyfiles = [f for f in credentials.get("files") or [] if f.get("path") == GCR_KEYFILE]
        if not keyfiles:
            raise PodFailed(f"image pull credentials of type GCR: no file {GCR_KEYFILE}")
        password = base64.b64decode(keyfiles[0].get("content", "")).decode("utf-8", "replace")
        user, registry = "_json_key", "https://" + given("GCR_HOSTNAME")
    else:
        raise PodFailed(
            f"image pull credentials of type {kind or '(none)'} are not supported by this "
            "agent (DockerHub, GenericDocker and GCR are)"
        )
    argv = [engine, "login", "--username", user, "--password-stdin"]
    return [*argv, registry] if registry else argv, password.encode()


Output = Callable[[str], Awaitable[None]]


class Pod:
    """One job's containers on one engine, from pulling their images to removing them."""

    def __init__(
        self,
        engine: str,
        payload: Mapping[str, Any],
        workspace: Workspace,
        job_env: Mapping[str, str],
        logs: LogShipper,
        mounts: tuple[Path, ...] = (),
    ) -> None:
        compose = payload.get("compose") or {}
        self.engine = engine
        self.containers = [Container.from_payload(c) for c in compose.get("containers") or []]
        self.credentials = list(compose.get("image_pull_credentials") or [])
        self.workspace = workspace
        self.job_env = [(k, v) for k, v in job_env.items() if k not in HOST_ONLY]
        self.logs = logs
        self.mounts = mounts
        self.job = workspace.root.name
        self.network = f"blockpost-{self.job}"
        # The agent's own, outside the workspace the job's container sees: env files with
        # the containers' secrets, and the logins of this job's pull credentials.
        self.private = Path(tempfile.mkdtemp(prefix="blockpost-pod-"))
        self.client_env = client_environment()
        if self.credentials:
            self.client_env["DOCKER_CONFIG"] = str(self.private / "docker")
            self.client_env["REGISTRY_AUTH_FILE"] = str(self.private / "auth.json")
        self.failure = ""
        self.aborted = False
        self._running: asyncio.subprocess.Process | None = None

    def _label(self) -> list[str]:
        return ["--label", f"{LABEL}={self.job}"]

    def _env_path(self, name: str) -> Path:
        return self.private / f"{name}.env"

    def _write_env(self, name: str, pairs: Sequence[tuple[str, str]]) -> list[str]:
        path = self._env_path(name)
        path.write_bytes(env_file(pairs))
        return ["--env-file", str(path)]

    def shell_command(self) -> list[str]:
        """The job's bash, in the first container: the workspace's control files (the
        commands, `checkout`, the job's files) are there at their host path, read-only."""
        main = self.containers[0]
        control = str(self.workspace.control)
        mounts = ["-v", f"{control}:{control}:ro,z"]
        for path in self.mounts:
            mounts += ["-v", f"{path}:{path}:ro"]
        return [
            self.engine,
            "run",
            "-i",
            "--rm",
            *self._label(),
            "--network",
            self.network,
            "--network-alias",
            main.name,
            *mounts,
            "--env-file",
            str(self._env_path("main")),  # written by `start`
            *main.run_options(),
            *main.program(BASH),
        ]

    async def start(self) -> int:
        """Logins, pulls and services, each logged as Semaphore's agent logs them; 0 when
        the job's shell may start. On failure `failure` says why."""
        steps = [("Pulling docker images...", self._pull), (STARTING, self._services)]
        if self.credentials:
            steps.insert(0, ("Setting up image pull credentials", self._login))
        for directive, work in steps:
            if self.aborted or await self._step(directive, work):
                return 1
        return 0

    async def abort(self) -> None:
        """The job was stopped: no further step; the one under way ends now."""
        self.aborted = True
        if self._running is not None and self._running.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._running.kill()

    async def _step(self, directive: str, work: Callable[[], Awaitable[None]]) -> int:
        async def logged() -> int:
            try:
                await work()
            except (PodFailed, OSError) as exc:
                self.failure = str(exc)
                self.logs.emit("cmd_output", output=f"{exc}\n")
                return 1
            return 0

        return await logship.command(self.logs, directive, logged)

    async def _output(self, text: str) -> None:
        self.logs.emit("cmd_output", output=text)

    async def _login(self) -> None:
        for credentials in self.credentials:
            argv, password = login(self.engine, credentials)
            await self._output(" ".join(argv[1:]) + "\n")
            if await self._call(argv, stdin=password, output=self._output):
                raise PodFailed("logging in to pull images failed")

    async def _pull(self) -> None:
        for image in dict.fromkeys(c.image for c in self.containers):
            if await self._call([self.engine, "image", "inspect", image]) == 0:
                await self._output(f"{image} is here already\n")
                continue
            await self._output(f"Pulling {image}\n")
            if await self._call([self.engine, "pull", image], self._output, PULL_TIMEOUT):
                raise PodFailed(f"pulling {image} failed")

    async def _services(self) -> None:
        self._write_env("main", [*self.job_env, *self.containers[0].env])
        await self._output("Starting a new bash session.\n")
        if await self._call([self.engine, "network", "create", *self._label(), self.network]):
            raise PodFailed(f"creating the network {self.network} failed")
        for number, service in enumerate(self.containers[1:], start=1):
            argv = [
                self.engine,
                "run",
                "--detach",
                *self._label(),
                "--network",
                self.network,
                "--network-alias",
                service.name,
                *self._write_env(f"service-{number}", service.env),
                *service.run_options(),
                *service.program(),
            ]
            if await self._call(argv, self._output):
                raise PodFailed(f"starting the container {service.name} failed")

    async def _call(
        self,
        argv: list[str],
        output: Output | None = None,
        limit: float = CALL_TIMEOUT,
        stdin: bytes | None = None,
    ) -> int:
        """Runs an engine command; its output goes to `output` (if given). Its exit code."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.client_env,
        )
        self._running = process
        try:
            async with asyncio.timeout(limit):
                if stdin is not None and process.stdin is not None:
                    process.stdin.write(stdin)
                    await process.stdin.drain()
                    process.stdin.close()
                assert process.stdout is not None
                async for line in process.stdout:
                    if output is not None:
                        await output(line.decode("utf-8", "replace"))
                return await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
            if output is not None:
                await output(f"{argv[1]} took more than {limit:.0f} s: stopped\n")
            return 1

    async def remove(self) -> None:
        """Removes every container and the network of the job, and the agent's files."""
        with contextlib.suppress(OSError):
            listed: list[str] = []

            async def collect(text: str) -> None:
                listed.extend(text.split())

            await self._call(
                [self.engine, "ps", "-aq", "--filter", f"label={LABEL}={self.job}"], collect
            )
            # One at a time: podman gives up on all when one (the job's, removed as it
            # ended) is gone. Killed first: `podman rm -f` would give each container's
            # bash, which ignores SIGTERM, ten seconds to stop.
            for container in listed:
                await self._call([self.engine, "kill", container])
                await self._call([self.engine, "rm", "-f", container])
            await self._call([self.engine, "network", "rm", self.network])
        shutil.rmtree(self.private, ignore_errors=True)
