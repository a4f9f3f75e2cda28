"""A fake forge on 127.0.0.1: the commit status routes of GitHub, GitLab, Gitea/Forgejo and
Bitbucket Cloud, each under its own API root, recording every request it is sent."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

# Each provider's API root below the server, as BLOCKPOST_<PROVIDER>_API_URL names it.
ROOTS = {
    "github": "/github",
    "gitlab": "/gitlab/api/v4",
    "gitea": "/gitea/api/v1",
    "bitbucket": "/bitbucket/2.0",
}
_ROUTES = {
    "github": re.compile(r"^/github/repos/(?P<repo>[^/]+/[^/]+)/statuses/(?P<sha>[0-9a-f]{40})$"),
    # GitLab names a project by its id or its URL-encoded path: one segment
    "gitlab": re.compile(
        r"^/gitlab/api/v4/projects/(?P<repo>[^/]+)/statuses/(?P<sha>[0-9a-f]{40})$"
    ),
    "gitea": re.compile(
        r"^/gitea/api/v1/repos/(?P<repo>[^/]+/[^/]+)/statuses/(?P<sha>[0-9a-f]{40})$"
    ),
    "bitbucket": re.compile(
        r"^/bitbucket/2.0/repositories/(?P<repo>[^/]+/[^/]+)/commit/(?P<sha>[0-9a-f]{40})"
        r"/statuses/build$"
    ),
}


@dataclass(frozen=True)
class StatusPost:
    provider: str
    repo: str  # owner/name (GitLab: the project path), decoded
    sha: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeForge:
    port: int = 0
    posts: list[StatusPost] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)  # paths no provider serves
    answers: list[int] = field(default_factory=list)  # the next answers' codes, then 201

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def root(self, provider: str) -> str:
        return self.url + ROOTS[provider]

    def states(self) -> list[tuple[str, str]]:
        """(context or Bitbucket name, state) of every status received, in order."""
        return [
            (p.body.get("context") or p.body.get("name", ""), p.body["state"]) for p in self.posts
        ]


def _handler(forge: FakeForge, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            route = next(
                ((name, m) for name, rx in _ROUTES.items() if (m := rx.match(self.path))), None
            )
            with lock:
                if route is None:
                    forge.unrouted.append(self.path)
                    code = 404
                else:
                    name, match = route
                    forge.posts.append(
                        StatusPost(
                            provider=name,
                            repo=unquote(match["repo"]),
                            sha=match["sha"],
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=json.loads(raw),
                        )
                    )
                    code = forge.answers.pop(0) if forge.answers else 201
            answer = json.dumps({"id": len(forge.posts)}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    return Handler


@contextmanager
def running_forge() -> Iterator[FakeForge]:
    forge = FakeForge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(forge, threading.Lock()))
    forge.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()
