"""A real OpenSSH server on 127.0.0.1 for tests: its own host key and authorized keys in
the test's directory, serving git repositories over ssh to the user it runs as."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import free_port

START_TIMEOUT = 10.0


def sshd_binary() -> str | None:
    return shutil.which("sshd") or next(
        (path for path in ("/usr/sbin/sshd",) if os.access(path, os.X_OK)), None
    )


def missing_reason() -> str | None:
    """Why no test sshd can run here, or None."""
    if sshd_binary() is None:
        return "sshd is not installed (Debian's openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed (Debian's openssh-client)"
    return None


@dataclass
class SshServer:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def host_key(self) -> Path:
        return self.root / "host_key"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    def url(self, repository: Path) -> str:
        return f"ssh://{getpass.getuser()}@127.0.0.1:{self.port}{repository}"

    def host_key_line(self) -> str:
        """The host key as a known_hosts line (what ssh-keyscan prints)."""
        return f"[127.0.0.1]:{self.port} {self.host_key.with_suffix('.pub').read_text().strip()}"

    def host_fingerprint(self) -> str:
        return fingerprint_of(self.host_key.with_suffix(".pub"))

    def new_host_key(self) -> None:
        """Restarts on the same port with a host key of its own (a changed host)."""
        self.stop()
        self.host_key.unlink()
        self.host_key.with_suffix(".pub").unlink()
        self.start()

    def authorize(self, public_line: str) -> None:
        with self.authorized_keys.open("a") as out:
            out.write(public_line.strip() + "\n")

    def start(self) -> SshServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.host_key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
                check=True,
            )
        self.authorized_keys.touch()
        config = self.root / "sshd_config"
        config.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {self.host_key}\n"
            f"PidFile {self.root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\n"
            "LogLevel ERROR\n"
        )
        if os.geteuid() == 0:
            # sshd running as root wants its privilege separation directory
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        binary = sshd_binary()
        assert binary is not None, missing_reason()
        self.process = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(config)],
            stdout=(self.root / "sshd.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not listen in {START_TIMEOUT}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def fingerprint_of(public_key_file: Path) -> str:
    """The fingerprint as `ssh-keygen -l` prints it."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(public_key_file)], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[1]
