"""The server's mirror of a private repository over HTTPS-style basic auth: a real git
smart-HTTP server (git http-backend) that wants a username and token."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from blockpost.crypto import Sealer
from blockpost.db.models import Project
from blockpost.errors import Unavailable
from blockpost.git import credentials
from blockpost.git.mirror import Mirrors, Repository
from blockpost.git.refs import parse_reference
from tests.support.gitrepo import GitRepo

SEALER = Sealer("test-key")
USERNAME, TOKEN = "ci-bot", "glpat-s3cr3t-token-value"


class _GitHttp(BaseHTTPRequestHandler):
    """git http-backend as CGI, behind HTTP basic auth."""

    root = Path()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        expected = "Basic " + base64.b64encode(f"{USERNAME}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "REMOTE_USER": USERNAME,
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=True
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The URL of a private repository served over http with basic auth."""
    origin = GitRepo(tmp_path / "work")
    origin.commit({"README": "private\n"})
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(origin.path), str(tmp_path / "root/app.git")],
        check=True,
    )
    handler = type("Handler", (_GitHttp,), {"root": tmp_path / "root"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/app.git"
    finally:
        server.shutdown()
        server.server_close()


def _mirror(tmp_path: Path, url: str, token: str | None) -> Repository:
    project = Project(id="p1", name="https", repository_url=url, deploy_key="")
    if token is not None:
        credentials.set_https_credential(project, SEALER, USERNAME, token)
    return Mirrors(tmp_path / "mirrors", 30, SEALER).for_project(project)


def test_the_https_credential_fetches_a_repository_that_wants_it(
    served: str, tmp_path: Path
) -> None:
    repo = _mirror(tmp_path, served, TOKEN)
    repo.fetch()
    assert repo.resolve(parse_reference("refs/heads/master"))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (
            None,
            "the repository wants a username and token: give the project an HTTPS "
            "credential (PUT its https_credential)",
        ),
        (
            "glpat-wrong-token-value",
            "the server refused the project's HTTPS credential (Authentication failed)",
        ),
    ],
)
def test_without_the_right_credential_the_fetch_fails_and_names_no_secret(
    served: str, tmp_path: Path, token: str | None, reason: str
) -> None:
    with pytest.raises(Unavailable) as refused:
        _mirror(tmp_path, served, token).fetch()
    message = refused.value.message
    assert message == f"spec.repository.url: cannot fetch {served}: {reason}"
    assert "glpat" not in message
    assert USERNAME not in message
