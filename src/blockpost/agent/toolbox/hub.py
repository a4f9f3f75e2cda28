"""The artifact hub protocol of Semaphore's `artifact` CLI: signed URLs, then transfers."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
import urllib.parse
from typing import Any, BinaryIO, Callable

PUSH, PUSHFORCE, PULL, YANK = 0, 1, 2, 3
RETRIES = 4  # as the Go client's retryablehttp: five requests in all
TIMEOUT = 600.0
CHUNK = 1 << 20


class HubError(Exception):
    """A step of a transfer failed; the message is the one Semaphore's CLI prints."""


class Unreachable(HubError):
    """No answer from the server at all (not an answer that says no)."""


class Missing(HubError):
    """The server answered that the artifact does not exist."""


class SignedURL:
    def __init__(self, url: str, method: str) -> None:
        self.url = url
        self.method = method

    def __repr__(self) -> str:
        return f"&{{{self.url} {self.method}}}"

    def object_name(self, requested: str) -> str:
        """The stored path this URL stands for: the artifact's path is part of every
        signed URL's path (after the store's own prefix, if any)."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.url).path)
        at = path.find("/" + requested)
        if at < 0:
            raise HubError(f"unrecognized signed URL '{self.url}'")
        return path[at + 1 :]


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if parts.scheme == "https":
        context = ssl.create_default_context()
        return http.client.HTTPSConnection(parts.netloc, timeout=TIMEOUT, context=context), target
    if parts.scheme == "http":
        return http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT), target
    raise HubError(f"unsupported URL '{url}'")


def request(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: Callable[[], bytes | BinaryIO] | None = None,
    sink: BinaryIO | None = None,
) -> Response:
    """One HTTP exchange, tried again on a connection failure or a 5xx like the Go client.
    `body` makes the request body afresh for each try; a 2xx answer's body goes to `sink`
    when given (streamed), else into the Response."""
    last = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            time.sleep(min(0.5 * 2 ** (attempt - 1), 1.0))
        if sink is not None:
            sink.seek(0)
            sink.truncate()
        payload = body() if body else None
        connection, target = _connection(url)
        try:
            connection.request(method, target, body=payload, headers=headers or {})
            answer = connection.getresponse()
            if answer.status >= 500 and attempt < RETRIES:
                answer.read()
                last = f"{method} {url} giving up after {RETRIES + 1} attempt(s)"
                continue
            if sink is not None and 200 <= answer.status < 300:
                while True:
                    chunk = answer.read(CHUNK)
                    if not chunk:
                        break
                    sink.write(chunk)
                return Response(answer.status, b"")
            return Response(answer.status, answer.read())
        except (OSError, http.client.HTTPException) as exc:
            last = f"{method} {url} giving up after {attempt + 1} attempt(s): {exc}"
        finally:
            connection.close()
            if hasattr(payload, "close"):
                payload.close()
    raise Unreachable(last)


class Hub:
    """POST $SEMAPHORE_ORGANIZATION_URL/api/v1/artifacts with the job's artifact token."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> Hub:
        env = dict(os.environ) if env is None else env
        token = env.get("SEMAPHORE_ARTIFACT_TOKEN", "")
        if not token:
            raise HubError("SEMAPHORE_ARTIFACT_TOKEN is not set")
        base = env.get("SEMAPHORE_ORGANIZATION_URL", "")
        if not base:
            raise HubError("SEMAPHORE_ORGANIZATION_URL is not set")
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise HubError(f"failed to parse SEMAPHORE_ORGANIZATION_URL '{base}'")
        return cls(
            urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/api/v1/artifacts", "", "")),
            token,
        )

    def signed_urls(self, paths: list[str], kind: int) -> list[SignedURL]:
        """The hub's URLs for `paths`; like the Go client's struct, empty fields are left
        out (a plain PUSH sends no `type`) and no Content-Type is sent."""
        fields: dict[str, Any] = {}
        if paths:
            fields["paths"] = paths
        if kind:
            fields["type"] = kind
        payload = (json.dumps(fields, separators=(",", ":")) + "\n").encode()
        try:
            answer = request("POST", self.url, {"authorization": self.token}, body=lambda: payload)
        except Unreachable as exc:
            raise Unreachable(f"request did not return a non-5xx response: {exc}") from None
        if not answer.ok:
            message = f"failed to generate signed URLs - hub returned {answer.status} status code"
            raise (Missing if answer.status == 404 else HubError)(message)
        try:
            decoded = json.loads(answer.body or b"{}")
        except ValueError as exc:
            raise HubError(f"failed to decode signed URL http response: {exc}") from None
        if not isinstance(decoded, dict):
            raise HubError("failed to decode signed URL http response: not an object")
        if decoded.get("error"):
            raise Missing(f"signed URL response returned errors: {decoded['error']}")
        return [
            SignedURL(str(item.get("url", "")), str(item.get("method", "")))
            for item in decoded.get("urls") or []
            if isinstance(item, dict)
        ]


def status_error(url: SignedURL, status: int) -> HubError:
    message = f"{url.method} request to {url.url} failed with {status} status code"
    return (Missing if status == 404 else HubError)(message)


def exists(url: SignedURL) -> bool:
    """A HEAD URL: does the object exist already?"""
    return request("HEAD", url.url).ok


def upload(url: SignedURL, local: str) -> int:
    """PUTs the file, streamed from disk; its size."""
    try:
        size = os.path.getsize(local)

        def body() -> BinaryIO | bytes:
            return open(local, "rb") if size else b""

        answer = request("PUT", url.url, {"Content-Length": str(size)}, body=body)
    except OSError as exc:
        raise HubError(f"failed to open '{local}': {exc}") from None
    if not answer.ok:
        raise status_error(url, answer.status)
    return size


def download(url: SignedURL, local: str) -> int:
    """GETs the object into `local` (parents made); a failed download leaves no file."""
    parent = os.path.dirname(local)
    try:
        if parent:
            os.makedirs(parent, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise HubError(f"failed to create parent directory '{parent}': {exc}") from None
    try:
        with open(local, "wb") as sink:
            answer = request("GET", url.url, sink=sink)
    except OSError as exc:
        raise HubError(f"failed to create local file '{local}': {exc}") from None
    except HubError:
        os.remove(local)
        raise
    if not answer.ok:
        os.remove(local)
        raise status_error(url, answer.status)
    return os.path.getsize(local)


def delete(url: SignedURL) -> None:
    answer = request("DELETE", url.url)
    if not answer.ok:
        raise status_error(url, answer.status)
