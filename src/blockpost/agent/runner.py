"""Runs one job payload: environment, files, commands until the first failure, epilogues;
in the agent's own shell, or in the job's first container."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

from blockpost.agent import containers, logship
from blockpost.agent.logship import LogShipper
from blockpost.agent.sandbox import Isolation
from blockpost.agent.shell import Shell, ShellGone
from blockpost.agent.workspace import Workspace

SAFE_VALUE = re.compile(r"^[\w@%+=:,./-]*$")
FILE_MODE = re.compile(r"^0?[0-7]{3}$")


def shell_quote(value: str) -> str:
    if value and SAFE_VALUE.match(value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def home_path(path: str) -> str:
    """A payload file path as shell text: relative and `~/` paths land in the job's HOME."""
    if path.startswith("/"):
        return shell_quote(path)
    relative = path[2:] if path.startswith("~/") else path
    return '"$HOME"/' + shell_quote(relative)


class JobRunner:
    """Runs one payload in a fresh workspace; `env` is the job's base environment. A job
    that asks for containers runs in them with `engine` (docker or podman), and fails at
    once without one: never on the host."""

    def __init__(
        self,
        payload: dict[str, Any],
        workspace: Workspace,
        isolation: Isolation,
        env: dict[str, str],
        logs: LogShipper,
        readable: tuple[Path, ...] = (),
        engine: str | None = None,
    ) -> None:
        self.payload = payload
        self.logs = logs
        self.workspace = workspace
        prelude = (
            f"source {workspace.control / 'checkout.sh'}\n"
            f"source {workspace.toolbox / 'sem_version.sh'}\n"
            f'export PATH={shell_quote(str(workspace.toolbox / "bin"))}:"$PATH"'
        )
        in_containers = containers.requested(payload)
        self.refusal = containers.refusal(payload, engine) if in_containers else ""
        self.pod: containers.Pod | None = None
        self.engine = engine
        if in_containers and engine is not None and not self.refusal:
            # The container is the job's isolation; the engine's client runs as the agent.
            self.pod = containers.Pod(engine, payload, workspace, env, logs, readable)
            self.shell = Shell(
                workspace,
                Isolation(),
                self.pod.client_env,
                prelude=prelude,
                program=self.pod.shell_command(),
            )
        else:
            self.shell = Shell(workspace, isolation, env, prelude=prelude, readable=readable)
        self.stopped = False
        self.reason = ""  # why the job failed, when its log's last line is not enough

    async def _output(self, text: str) -> None:
        self.logs.emit("cmd_output", output=text)

    async def _shell(self, script: str) -> int:
        """`script`'s exit code in the job's shell; 1 when the shell is gone."""
        try:
            return await self.shell.run(script, self._output)
        except ShellGone:
            return 1

    async def _command(self, directive: str, body: str | None = None) -> int:
        return await logship.command(
            self.logs, directive, lambda: self._shell(body if body is not None else directive)
        )

    async def _export(self, variables: list[tuple[str, str]]) -> int:
        exports = "".join(f"export {n}={shell_quote(v)}\n" for n, v in variables)
        env_file = self.workspace.write(f"env-{time.time_ns()}", exports.encode())
        self.logs.emit("cmd_started", directive="Exporting environment variables")
        for name, _ in variables:
            self.logs.emit("cmd_output", output=f"Exporting {name}\n")
        code = await self._shell(f"source {env_file}")
        self.logs.emit("cmd_finished", directive="Exporting environment variables", exit_code=code)
        return code

    async def _inject_files(self) -> int:
        """Files are copied into place by the job's own shell, with the job's rights: a
        payload path can never make the agent write outside what the job may write."""
        files = self.payload.get("files") or []
        if not files:
            return 0
        self.logs.emit("cmd_started", directive="Injecting Files")
        script = []
        for number, item in enumerate(files):
            mode = str(item.get("mode") or "0644")
            if not FILE_MODE.match(mode):
                mode = "0644"
            self.logs.emit("cmd_output", output=f"Injecting {item['path']} with file mode {mode}\n")
            source = self.workspace.write(
                f"file-{number}", base64.b64decode(item.get("content", ""))
            )
            target = home_path(str(item["path"]))
            script.append(
                f'mkdir -p "$(dirname {target})" && cp {source} {target} '
                f"&& chmod {mode} {target} || return 1"
            )
        code = await self._shell("\n".join(script))
        self.logs.emit("cmd_finished", directive="Injecting Files", exit_code=code)
        return code

    async def _until_failure(self, commands: list[dict[str, str]]) -> int:
        for command in commands:
            if self.stopped:
                return 1
            code = await self._command(command["directive"])
            if code != 0:
                return code
        return 0

    async def run(self) -> str:
        """Returns the job result: passed, failed or stopped."""
        self.logs.emit("job_started")
        if self.refusal:
            result = await self._refuse()
        else:
            self.workspace.create()
            self.workspace.trust(self.shell.readable)
            try:
                result = await self._run_in_workspace()
            finally:
                await self.shell.close()
                if self.pod is not None:
                    await self.pod.remove()
                elif self.engine is not None:
                    await containers.remove_services(self.engine, self.workspace.root.name)
                self.workspace.remove()
        self.logs.emit("job_finished", result=result)
        return result

    async def _refuse(self) -> str:
        async def say_why() -> int:
            self.logs.emit("cmd_output", output=f"{self.refusal}\n")
            return 1

        await logship.command(self.logs, containers.STARTING, say_why)
        self.reason = self.refusal
        return "failed"

    async def _run_in_workspace(self) -> str:
        if self.pod is not None and await self.pod.start() != 0:
            self.reason = self.pod.failure
            return "stopped" if self.stopped else "failed"
        await self.shell.start()
        variables = [
            (env["name"], base64.b64decode(env["value"]).decode("utf-8", "replace"))
            for env in self.payload.get("env_vars") or []
        ]
        code = await self._export(variables) if variables else 0
        if code == 0:
            code = await self._inject_files()
        if code == 0:
            code = await self._until_failure(self.payload.get("commands") or [])
        result = await self._result(code)
        if not self.stopped:
            await self._epilogues(result)
        return "stopped" if self.stopped else result

    async def _result(self, code: int) -> str:
        if self.stopped:
            return "stopped"
        if code == 0:
            return "passed"
        if code == 130:
            # `exit 130` / `return 130` with SEMAPHORE_JOB_RESULT set ends a job early on purpose.
            chosen = await self.shell.variable("SEMAPHORE_JOB_RESULT")
            return chosen if chosen in {"passed", "failed"} else "stopped"
        return "failed"

    async def _epilogues(self, result: str) -> None:
        try:
            await self.shell.run(f"export SEMAPHORE_JOB_RESULT={result}", self._output)
        except ShellGone:
            await self.shell.kill()
            await self.shell.start()
            await self.shell.run(f"export SEMAPHORE_JOB_RESULT={result}", self._output)
        await self._until_failure(self.payload.get("epilogue_always_commands") or [])
        branch = "epilogue_on_pass_commands" if result == "passed" else "epilogue_on_fail_commands"
        await self._until_failure(self.payload.get(branch) or [])

    async def stop(self) -> None:
        self.stopped = True
        if self.pod is not None:
            await self.pod.abort()
        await self.shell.kill()
