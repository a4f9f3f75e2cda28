"""Private repositories: deploy keys, HTTPS credentials and known host keys, and the
environment git fetches with them; every call is blocking or pure."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shlex
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from blockpost.crypto import Sealer
from blockpost.errors import InvalidInput

HTTPS_FIELD_MAX = 4096
KNOWN_HOSTS_MAX = 64 * 1024
# Where a job finds the key: Semaphore's path for the repository's private key.
JOB_KEY_PATH = ".ssh/id_rsa"
_SHA256 = re.compile(r"SHA256:[A-Za-z0-9+/]+")
_CHANGED = re.compile(r"Host key for (\S+) has changed")
# git asks the helper with "get" (and "store"/"erase" after); it answers only "get", from
# variables of the fetch's own environment, so the token is in no file, URL or argv.
_HELPER = (
    '!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" '
    '"$BLOCKPOST_GIT_USERNAME" "$BLOCKPOST_GIT_PASSWORD"; }; f'
)


class WithCredentials(Protocol):
    id: str
    repository_url: str
    deploy_key: str
    deploy_key_public: str
    https_credential: str


@dataclass(frozen=True)
class RepoAccess:
    """A project's opened credentials: an OpenSSH private key and/or username + token."""

    private_key: str = ""
    https_username: str = ""
    https_token: str = ""

    @classmethod
    def of(cls, project: WithCredentials, sealer: Sealer) -> RepoAccess:
        private_key = sealer.open(project.deploy_key) if project.deploy_key else ""
        https = sealer.open(project.https_credential) if project.https_credential else {}
        return cls(private_key, https.get("username", ""), https.get("token", ""))


NO_ACCESS = RepoAccess()


@dataclass(frozen=True)
class HostKey:
    host: str
    type: str
    fingerprint: str


def fingerprint(blob: bytes) -> str:
    """A key's fingerprint as `ssh-keygen -l` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def public_fingerprint(public_line: str) -> str:
    return fingerprint(base64.b64decode(public_line.split()[1]))


def set_deploy_key(project: WithCredentials, sealer: Sealer, comment: str) -> str:
    """Gives the project a new ed25519 pair (replacing any); returns the public line."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    project.deploy_key = sealer.seal(private)
    project.deploy_key_public = f"{public.decode()} {comment}"
    return project.deploy_key_public


def remove_deploy_key(project: WithCredentials) -> None:
    project.deploy_key = ""
    project.deploy_key_public = ""


def _check_https_field(where: str, value: str) -> None:
    if not value:
        raise InvalidInput(where, "is required")
    if len(value) > HTTPS_FIELD_MAX:
        raise InvalidInput(where, f"must be at most {HTTPS_FIELD_MAX} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(where, "must not contain control characters or line breaks")


def set_https_credential(
    project: WithCredentials, sealer: Sealer, username: str, token: str
) -> None:
    _check_https_field("username", username)
    _check_https_field("token", token)
    project.https_credential = sealer.seal({"username": username, "token": token})


def remove_https_credential(project: WithCredentials) -> None:
    project.https_credential = ""


def https_username(project: WithCredentials, sealer: Sealer) -> str | None:
    if not project.https_credential:
        return None
    return str(sealer.open(project.https_credential)["username"])


def _key_type(blob: bytes) -> str:
    (length,) = struct.unpack(">I", blob[:4])
    return blob[4 : 4 + length].decode("ascii")


def parse_known_hosts(text: str) -> list[HostKey]:
    """The keys of known_hosts text (`host[,host] type base64`, optionally after an
    @cert-authority or @revoked marker); InvalidInput naming the first bad line."""
    if len(text) > KNOWN_HOSTS_MAX:
        raise InvalidInput("known_hosts", f"must be at most {KNOWN_HOSTS_MAX} characters")
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0].startswith("@"):
            fields = fields[1:]
        try:
            hosts, key_type, encoded = fields[:3]
            blob = base64.b64decode(encoded, validate=True)
            found = _key_type(blob)
        except (ValueError, struct.error, binascii.Error, UnicodeDecodeError):
            raise InvalidInput(
                "known_hosts", f"line {number}: is not 'host key-type base64-key'"
            ) from None
        if found != key_type:
            raise InvalidInput("known_hosts", f"line {number}: the key is {found}, not {key_type}")
        keys += [HostKey(host, key_type, fingerprint(blob)) for host in hosts.split(",")]
    return keys


def read_known_hosts(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def write_known_hosts(path: Path, text: str) -> list[HostKey]:
    """Replaces the recorded host keys (checked first); "" forgets them all."""
    keys = parse_known_hosts(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.new")
    temporary.write_text(text if not text or text.endswith("\n") else text + "\n")
    temporary.replace(path)
    return keys


def _ssh_command(known_hosts: Path, key_file: Path | None) -> str:
    """ssh as git runs it: never a prompt; the project's own known_hosts, whose first key
    for a host is recorded (trust on first use) and a changed one refused."""
    command = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
    command += [
        "-o",
        f'UserKnownHostsFile="{known_hosts}"',
        "-o",
        "StrictHostKeyChecking=accept-new",
    ]
    command += ["-o", "HashKnownHosts=no"]
    if key_file is not None:
        command += ["-i", str(key_file), "-o", "IdentitiesOnly=yes"]
    return shlex.join(command)


@contextmanager
def fetch_env(access: RepoAccess, known_hosts: Path) -> Iterator[dict[str, str]]:
    """The variables a fetch adds to git's environment; a private key lives in a 0600
    file of a private temporary directory, removed when the fetch is over."""
    with tempfile.TemporaryDirectory(prefix="blockpost-key-") as directory:
        key_file = None
        if access.private_key:
            key_file = Path(directory) / "key"
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(access.private_key)
        env = {"GIT_SSH_COMMAND": _ssh_command(known_hosts, key_file)}
        if access.https_token:
            env |= {
                "GIT_CONFIG_COUNT": "2",
                # an empty helper first: no helper of the server's own configuration runs
                "GIT_CONFIG_KEY_0": "credential.helper",
                "GIT_CONFIG_VALUE_0": "",
                "GIT_CONFIG_KEY_1": "credential.helper",
                "GIT_CONFIG_VALUE_1": _HELPER,
                "BLOCKPOST_GIT_USERNAME": access.https_username,
                "BLOCKPOST_GIT_PASSWORD": access.https_token,
            }
        yield env


def refusal(stderr: str, access: RepoAccess, known_hosts: Path) -> str | None:
    """What a failed fetch's refusal means for the project (a changed host key, a key or
    token the server does not accept, or none given); None when git's own reason says it."""
    if changed := _CHANGED.search(stderr):
        return _changed_host_key(changed.group(1), stderr, known_hosts)
    if "Permission denied (publickey" in stderr:
        if access.private_key:
            return (
                "the SSH server refused the project's deploy key (Permission denied): add "
                "its public key (GET the project's deploy_key) to the repository's deploy keys"
            )
        return (
            "the SSH server wants a key (Permission denied): give the project a deploy "
            "key (POST its deploy_key) and add its public key to the repository's deploy keys"
        )
    if "askpass" in stderr or "could not read Username" in stderr:
        return (
            "the repository wants a username and token: give the project an HTTPS "
            "credential (PUT its https_credential)"
        )
    if "Authentication failed" in stderr and access.https_token:
        return "the server refused the project's HTTPS credential (Authentication failed)"
    return None


def _changed_host_key(host: str, stderr: str, known_hosts: Path) -> str:
    offered = _SHA256.search(stderr)
    recorded = [
        key.fingerprint
        for key in parse_known_hosts(read_known_hosts(known_hosts))
        if key.host == host
    ]
    return (
        f"the SSH host key of {host} has changed: recorded {', '.join(recorded) or 'none'}, "
        f"offered now {offered.group(0) if offered else 'unknown'}. If the change is expected, "
        "replace the project's known hosts (PUT or DELETE its known_hosts)"
    )


def ssh_host(url: str) -> str | None:
    """The host an ssh:// or scp-like (user@host:path) URL names; None for other URLs."""
    if "://" in url:
        parts = urlsplit(url)
        return parts.hostname if parts.scheme == "ssh" else None
    if url.startswith("/") or ":" not in url.split("/", 1)[0]:
        return None
    return url.split(":", 1)[0].rpartition("@")[2] or None


@dataclass(frozen=True)
class JobAccess:
    """What a job gets to reach its repository: payload files and (name, value) variables."""

    files: list[dict[str, str]]
    env: list[tuple[str, str]]


NO_JOB_ACCESS = JobAccess([], [])


def job_access(access: RepoAccess, url: str, known_hosts: str) -> JobAccess:
    """What a job of the project gets for `checkout` over ssh, as Semaphore gives it: the
    key in ~/.ssh/id_rsa (0600), the recorded host keys, and an ssh config that uses both
    for the repository's host and never accepts a host key it was not given. ssh reads its
    config from the passwd entry's home, not $HOME (a job's own directory here), so
    GIT_SSH_COMMAND names it; git's shell expands $HOME, ssh its ${HOME}."""
    host = ssh_host(url)
    if not access.private_key or host is None:
        return NO_JOB_ACCESS
    config = (
        f"Host {host}\n"
        f"  IdentityFile ${{HOME}}/{JOB_KEY_PATH}\n"
        "  IdentitiesOnly yes\n"
        "  UserKnownHostsFile ${HOME}/.ssh/known_hosts\n"
        "  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n"
    )
    files = [
        (JOB_KEY_PATH, access.private_key, "0600"),
        (".ssh/known_hosts", known_hosts, "0644"),
        (".ssh/config", config, "0644"),
    ]
    return JobAccess(
        files=[
            {"path": path, "content": base64.b64encode(text.encode()).decode(), "mode": mode}
            for path, text, mode in files
        ],
        env=[("GIT_SSH_COMMAND", 'ssh -F "$HOME/.ssh/config"')],
    )
