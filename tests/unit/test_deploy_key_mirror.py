"""The server's mirror of a private repository over a real sshd: the deploy key, host keys
recorded on first use and refused when changed, and the HTTPS credential helper."""

from __future__ import annotations

import shlex
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockpost.crypto import Sealer
from blockpost.db.models import Project
from blockpost.errors import Unavailable
from blockpost.git import credentials
from blockpost.git.credentials import RepoAccess
from blockpost.git.mirror import Mirrors, Repository
from blockpost.git.refs import parse_reference
from tests.support import sshd
from tests.support.gitrepo import GitRepo

pytestmark = pytest.mark.skipif(
    sshd.missing_reason() is not None, reason=str(sshd.missing_reason())
)
SEALER = Sealer("test-key")


@pytest.fixture
def ssh_server(tmp_path: Path) -> Iterator[sshd.SshServer]:
    server = sshd.SshServer(tmp_path / "sshd").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def origin(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "origin")
    repo.commit({"README": "private\n"})
    return repo


def _project(url: str, *, with_key: bool) -> Project:
    project = Project(id="p1", name="private", repository_url=url, deploy_key="")
    if with_key:
        credentials.set_deploy_key(project, SEALER, "blockpost-private")
    return project


def _mirror(tmp_path: Path, project: Project) -> Repository:
    return Mirrors(tmp_path / "mirrors", 30, SEALER).for_project(project)


def test_without_a_deploy_key_the_fetch_fails_with_sshs_reason(
    ssh_server: sshd.SshServer, origin: GitRepo, tmp_path: Path
) -> None:
    url = ssh_server.url(origin.path)
    with pytest.raises(Unavailable) as refused:
        _mirror(tmp_path, _project(url, with_key=False)).fetch()
    assert refused.value.message.startswith(f"spec.repository.url: cannot fetch {url}: ")
    assert "the SSH server wants a key (Permission denied): give the project a deploy key" in (
        refused.value.message
    )


def test_the_deploy_key_fetches_and_the_first_fetch_records_the_host_key(
    ssh_server: sshd.SshServer, origin: GitRepo, tmp_path: Path
) -> None:
    project = _project(ssh_server.url(origin.path), with_key=True)
    ssh_server.authorize(project.deploy_key_public)
    repo = _mirror(tmp_path, project)
    repo.fetch()
    assert repo.resolve(parse_reference("refs/heads/master")) == origin.git("rev-parse", "HEAD")
    recorded = credentials.parse_known_hosts(repo.known_hosts.read_text())
    assert [(key.host, key.fingerprint) for key in recorded] == [
        (f"[127.0.0.1]:{ssh_server.port}", ssh_server.host_fingerprint())
    ]


def test_a_changed_host_key_is_refused_naming_the_host_and_both_fingerprints(
    ssh_server: sshd.SshServer, origin: GitRepo, tmp_path: Path
) -> None:
    project = _project(ssh_server.url(origin.path), with_key=True)
    ssh_server.authorize(project.deploy_key_public)
    repo = _mirror(tmp_path, project)
    repo.fetch()
    first = ssh_server.host_fingerprint()
    ssh_server.new_host_key()
    with pytest.raises(Unavailable) as refused:
        repo.fetch()
    message = refused.value.message
    assert f"the SSH host key of [127.0.0.1]:{ssh_server.port} has changed" in message
    assert f"recorded {first}, offered now {ssh_server.host_fingerprint()}" in message
    assert "PRIVATE KEY" not in message
    credentials.write_known_hosts(repo.known_hosts, ssh_server.host_key_line())
    repo.fetch()


def test_host_keys_given_up_front_refuse_a_server_offering_another(
    ssh_server: sshd.SshServer, origin: GitRepo, tmp_path: Path
) -> None:
    project = _project(ssh_server.url(origin.path), with_key=True)
    ssh_server.authorize(project.deploy_key_public)
    repo = _mirror(tmp_path, project)
    expected = ssh_server.host_key_line()
    ssh_server.new_host_key()
    credentials.write_known_hosts(repo.known_hosts, expected)
    with pytest.raises(Unavailable, match="has changed"):
        repo.fetch()


def test_a_fetchs_key_is_a_0600_file_named_in_git_ssh_command_and_removed_after(
    tmp_path: Path,
) -> None:
    access = RepoAccess(private_key="-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n")
    with credentials.fetch_env(access, tmp_path / "known_hosts") as env:
        command = shlex.split(env["GIT_SSH_COMMAND"])
        key_file = Path(command[command.index("-i") + 1])
        assert key_file.read_text() == access.private_key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert "PRIVATE" not in env["GIT_SSH_COMMAND"]
        assert f'UserKnownHostsFile="{tmp_path / "known_hosts"}"' in command
        assert "StrictHostKeyChecking=accept-new" in command
    assert not key_file.parent.exists()


def test_the_https_credential_reaches_git_through_its_helper_and_never_a_message(
    tmp_path: Path,
) -> None:
    access = RepoAccess(https_username="ci-bot", https_token="s3cr3t-token-value")
    with credentials.fetch_env(access, tmp_path / "known_hosts") as env:
        filled = subprocess.run(
            ["git", "credential", "fill"],
            input="protocol=https\nhost=git.example.com\n\n",
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert "username=ci-bot\npassword=s3cr3t-token-value\n" in filled
    assert "s3cr3t" not in env["GIT_SSH_COMMAND"]
    url = "http://127.0.0.1:1/team/app.git"
    project = Project(id="p2", name="https", repository_url=url, deploy_key="")
    credentials.set_https_credential(project, SEALER, "ci-bot", "s3cr3t-token-value")
    with pytest.raises(Unavailable) as refused:
        _mirror(tmp_path, project).fetch()
    assert "s3cr3t" not in refused.value.message
    assert "ci-bot" not in refused.value.message


def test_known_hosts_lines_are_checked_before_they_are_stored(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="line 2"):
        credentials.write_known_hosts(tmp_path / "kh", "# comment\ngithub.com ssh-ed25519 !!\n")
    assert not (tmp_path / "kh").exists()
