"""One persistent bash per job: commands are sourced in it, so cd/export/functions persist."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from blockpost.agent.sandbox import Isolation
from blockpost.agent.workspace import Workspace

Output = Callable[[str], Awaitable[None]]
READ_CHUNK = 4096
BASH = ("bash", "--noprofile", "--norc")


class ShellGone(Exception):
    """bash exited (a command ran `exit`, or the job was stopped)."""


class Shell:
    def __init__(
        self,
        workspace: Workspace,
        isolation: Isolation,
        env: dict[str, str],
        prelude: str = "",
        readable: tuple[Path, ...] = (),
        program: Sequence[str] = BASH,  # what runs the bash (a container engine's client)
    ) -> None:
        self.workspace = workspace
        self.isolation = isolation
        self.env = env
        self.prelude = prelude
        self.readable = readable
        self.program = program
        self.marker = f"BLOCKPOST-{secrets.token_hex(8)}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        argv = self.isolation.command(list(self.program), self.workspace.root, self.readable)
        # Own session: stopping the job kills bash and everything it started. The
        # environment is exactly `env`: nothing of the agent's own leaks in.
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.workspace.home,
            start_new_session=True,
            env=self.env,
            **self.isolation.popen(),
        )
        await self._send("exec 2>&1\ncd ~\n" + self.prelude + "\n")

    async def _send(self, text: str) -> None:
        assert self.process
        assert self.process.stdin
        try:
            self.process.stdin.write(text.encode())
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise ShellGone from None

    async def run(self, command: str, output: Output) -> int:
        """Sources `command` in the shell, streams its output, returns its exit code."""
        assert self.process
        assert self.process.stdout
        script = self.workspace.write("current-command", (command + "\n").encode())
        await self._send(
            f"source {script}\n__bp_rc=$?\nprintf '\\n{self.marker} %s\\n' \"$__bp_rc\"\n"
        )
        pending = b""
        while True:
            chunk = await self.process.stdout.read(READ_CHUNK)
            if not chunk:
                if pending:
                    await output(pending.decode("utf-8", "replace"))
                raise ShellGone
            pending += chunk
            marker = f"\n{self.marker} ".encode()
            at = pending.find(marker)
            if at >= 0:
                end = pending.find(b"\n", at + len(marker))
                if end >= 0:
                    if at:
                        await output(pending[:at].decode("utf-8", "replace"))
                    return int(pending[at + len(marker) : end] or b"1")
                continue
            # Keep a tail that could be the start of the marker; send the rest now.
            keep = len(marker) + 8
            if len(pending) > keep:
                cut = len(pending) - keep
                while cut > 0 and (pending[cut] & 0xC0) == 0x80:
                    cut -= 1  # never split a UTF-8 character
                await output(pending[:cut].decode("utf-8", "replace"))
                pending = pending[cut:]

    async def variable(self, name: str) -> str:
        collected: list[str] = []

        async def keep(text: str) -> None:
            collected.append(text)

        await self.run(f'printf "%s" "${{{name}}}"', keep)
        return "".join(collected)

    async def kill(self) -> None:
        if self.process and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    async def close(self) -> None:
        await self.kill()
