"""ASGI middleware: authentication before anything reads the body, body size limit, form bodies."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blockpost import storable
from blockpost.api.cookies import SESSION_COOKIE
from blockpost.api.errors import error_response
from blockpost.db.engine import Database
from blockpost.dispatch import registry
from blockpost.errors import InvalidInput, NotAuthenticated, NotFound
from blockpost.security import token_hash
from blockpost.services import auth
from blockpost.services.principal import Principal
from blockpost.web.paths import PAGES, PAGES_PUBLIC, from_script, is_page, to_login
from blockpost.web.render import error_page

PUBLIC_PATHS = frozenset(
    {"/api/auth/login", "/healthz", "/readyz", "/metrics", "/openapi.json", "/swagger"}
)
# /api/v1/snapshots/: a snapshot workflow's jobs clone their snapshot there with their own
# credentials, which the route checks (api/snapshots.py); user credentials never work there.
PUBLIC_PREFIXES = ("/swagger/", "/api/v1/snapshots/")
# Artifacts (api/artifacts.py): the hub checks the job's artifact token itself, and the
# local store's URLs carry their own signature; their uploads stream, unbuffered.
ARTIFACT_HUB = "/api/v1/artifacts"
ARTIFACT_URLS = ("/artifacts/", "/artifact-store/")
# A job publishes test results with its artifact token, which the route checks
# (api/test_results.py); user credentials never work there.
TEST_RESULTS_PUBLISH = "/api/v1/test_results"
# The job cache (api/cache.py): the `cache` command's routes check the job's artifact token
# themselves; the local store's URLs of archives carry their own signature and stream.
CACHE_API = "/api/v1/cache"
CACHE_URLS = "/cache/"
JOB_TOKEN_PATHS = frozenset({TEST_RESULTS_PUBLISH, CACHE_API})
# Forges' webhook deliveries (api/hooks.py): the route checks each one's signature against
# the project's secret over the body exactly as sent, so the body is never rewritten.
HOOKS = "/hooks/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUTH_SCHEMES = frozenset({"token", "bearer"})


AGENT_API = "/api/v1/self_hosted_agents/"
REGISTER_PATH = AGENT_API + "register"
# Authenticated with an agent type's registration token, as register is: autoscalers ask
# how busy a type is (Semaphore's agent-aws-stack and k8s metrics adapter).
TYPE_TOKEN_PATHS = frozenset({REGISTER_PATH, AGENT_API + "metrics", AGENT_API + "occupancy"})
LOG_PUSH = "/api/v1/logs/"
SNAPSHOT_UPLOAD = "/api/v1alpha/plumber-workflows"


def is_public(path: str) -> bool:
    return (
        path in PUBLIC_PATHS
        or path.startswith(PUBLIC_PREFIXES)
        or path == ARTIFACT_HUB
        or path.startswith(ARTIFACT_URLS)
        or path in JOB_TOKEN_PATHS
        or path.startswith(HOOKS)
        or path.startswith((CACHE_API + "/", CACHE_URLS))
        or path.startswith(PAGES_PUBLIC)
    )


def is_protocol(path: str) -> bool:
    """Paths agents call, with agent credentials; user credentials never work there."""
    return path.startswith((AGENT_API, LOG_PUSH))


def _credentials(headers: Headers) -> tuple[str, str]:
    """Returns ("token" | "session", secret) or raises NotAuthenticated."""
    header = headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.strip().partition(" ")
        secret = secret.strip()
        if scheme and not secret and scheme.lower() not in AUTH_SCHEMES:
            # Swagger's Authorize (an apiKey header) sends what was pasted: the bare token.
            return "token", scheme
        if scheme.lower() not in AUTH_SCHEMES or not secret or " " in secret:
            raise NotAuthenticated(
                "Authorization header must be 'Token <api token>', 'Bearer <api token>' "
                "or the token alone"
            )
        return "token", secret
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return "session", value
    raise NotAuthenticated(
        "authentication required: send 'Authorization: Token <api token>' "
        "or log in at /api/auth/login"
    )


# Longer than the 20 s hold, so an idle agent's token is looked up once in five minutes.
AGENT_CACHE_SECONDS = 300.0
AGENT_CACHE_SIZE = 10_000
TOKEN_CACHE_SECONDS = 5.0


class PrincipalCache:
    """API token hash -> caller, for a few seconds: CI scripts poll, and the token lookup
    was the larger half of a pipeline describe. Expiring a token clears it here at once;
    other replicas follow within TOKEN_CACHE_SECONDS."""

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[Principal, float]] = {}

    def get(self, key: str) -> Principal | None:
        item = self._items.get(key)
        if item is None or item[1] <= time.monotonic():
            return None
        return item[0]

    def put(self, key: str, principal: Principal) -> None:
        if len(self._items) >= AGENT_CACHE_SIZE:
            self._items.clear()
        self._items[key] = (principal, time.monotonic() + self.ttl)

    def clear(self) -> None:
        self._items.clear()


class AuthMiddleware:
    """Resolves the caller for every non-public path, so no route can forget to."""

    def __init__(self, app: ASGIApp, db: Database, principals: PrincipalCache) -> None:
        self.app = app
        self.db = db
        self.principals = principals
        # Agent token hash -> (agent id, type name, expiry). Idle agents sync constantly;
        # every protocol route loads the agent row again, so a removed agent still gets 404.
        self._agents: dict[str, tuple[int, str, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or is_public(path):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            if is_protocol(path):
                await self._agent_credentials(path, Headers(scope=scope), state)
            else:
                state["principal"] = await self._user(Headers(scope=scope))
        except NotAuthenticated as exc:
            if is_page(path) and not from_script(scope):
                response: Response = to_login(scope)
            else:
                response = error_response(401, exc.message)
            await response(scope, receive, send)
            return
        except NotFound as exc:
            await error_response(404, exc.message)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _user(self, headers: Headers) -> Principal:
        kind, secret = _credentials(headers)
        key = token_hash(secret) if kind == "token" else ""
        if key and (cached := self.principals.get(key)) is not None:
            return cached
        async with self.db.session() as session:
            if kind == "token":
                principal = await auth.principal_for_token(session, secret)
                self.principals.put(key, principal)
                return principal
            return await auth.principal_for_session(session, secret)

    async def _agent_credentials(self, path: str, headers: Headers, state: dict[str, Any]) -> None:
        kind, secret = _credentials(headers)
        if kind != "token":
            raise NotAuthenticated("the agent API takes 'Authorization: Token <token>'")
        if not path.startswith(LOG_PUSH) and path not in TYPE_TOKEN_PATHS:
            state["agent_id"], state["agent_type"] = await self._agent(secret)
            # The id alone is not the agent: SQLite reuses a removed agent's id, and a
            # cached token of a removed agent must not act as the next one to get it.
            state["agent_token_hash"] = token_hash(secret)
            return
        async with self.db.session() as session:
            if path.startswith(LOG_PUSH):
                job_id = path.removeprefix(LOG_PUSH).strip("/")
                if not await registry.log_token_valid(session, job_id, secret):
                    raise NotAuthenticated("log token unknown or expired; refresh it")
                state["log_job_id"] = job_id
            else:
                agent_type = await registry.type_for_token(session, secret)
                if agent_type is None:
                    raise NotFound("no agent type has this registration token")
                state["agent_type_id"] = agent_type.id

    async def _agent(self, secret: str) -> tuple[int, str]:
        """The agent's id and its type's name (a token belongs to one agent, for good)."""
        key = token_hash(secret)
        cached = self._agents.get(key)
        now = time.monotonic()
        if cached is not None and cached[2] > now:
            return cached[0], cached[1]  # no session: most requests of an idle fleet stop here
        async with self.db.session() as session:
            agent = await registry.agent_for_token(session, secret)
        if agent is None:
            self._agents.pop(key, None)
            raise NotFound(registry.AGENT_GONE)
        if len(self._agents) >= AGENT_CACHE_SIZE:
            self._agents.clear()
        self._agents[key] = (agent.id, agent.agent_type.name, now + AGENT_CACHE_SECONDS)
        return agent.id, agent.agent_type.name


# Far more than any form the API takes; each also bounds the JSON the form becomes.
MAX_FORM_FIELDS = 1000
MAX_FORM_KEY_PARTS = 16


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a.b=1&c[]=x&c[]=y` -> {"a": {"b": "1"}, "c": ["x", "y"]}; repeated keys make lists."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        as_list = raw_key.endswith("[]")
        *parents, leaf = raw_key.removesuffix("[]").split(".", MAX_FORM_KEY_PARTS)
        if len(parents) >= MAX_FORM_KEY_PARTS:
            shown = raw_key if len(raw_key) <= 60 else raw_key[:60] + "…"
            raise InvalidInput(shown, f"a form key has at most {MAX_FORM_KEY_PARTS} parts")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        existing = node.get(leaf)
        if isinstance(existing, list):
            existing.append(value)
        elif leaf in node:
            node[leaf] = [existing, value]
        else:
            node[leaf] = [value] if as_list else value
    return out


def form_to_json(body: bytes) -> bytes:
    """Raises InvalidInput for a form with too many fields or keys of too many parts."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith(("{", "[")):
        # `curl -d '{"a": 1}'` without a Content-Type header: the body is JSON after all.
        return body
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InvalidInput("body", f"a form has at most {MAX_FORM_FIELDS} fields") from None
    return json.dumps(_nest(pairs)).encode()


def _unstorable_query(scope: Scope) -> str | None:
    """The path or the first query parameter holding a character no text column takes."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"query parameter {name.replace(chr(0), '') or '?'}"
    return None


def _refused_body(body: bytes) -> str | None:
    """Why the body cannot be taken, as `where: reason`; None for almost every body."""
    if storable.json_too_deep(body):
        return f"body: nested deeper than {storable.MAX_JSON_DEPTH} levels"
    where = _unstorable(body)
    return None if where is None else f"{where}: {storable.REASON}"


def _unstorable(body: bytes) -> str | None:
    if not storable.escaped_in(body):
        return None  # the usual case: no parse
    try:
        return storable.first_unstorable(json.loads(body))
    except ValueError:
        return None  # not JSON: FastAPI answers that


class BodyMiddleware:
    """Refuses bodies over the limit with 413, turns url-encoded forms into JSON, and refuses
    text no database column can hold and JSON nested too deeply to walk (400 naming where)
    before any route sees it."""

    def __init__(self, app: ASGIApp, max_bytes: int, snapshot_max_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # a workflow snapshot's archive (multipart, to SNAPSHOT_UPLOAD) may be larger
        self.snapshot_max_bytes = max(max_bytes, snapshot_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (where := _unstorable_query(scope)) is not None:
            await _refusal(scope, 400, f"{where}: {storable.REASON}")(scope, receive, send)
            return
        if scope["method"] not in BODY_METHODS or scope["path"].startswith(
            (*ARTIFACT_URLS, CACHE_URLS)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self._limit(scope, headers)
        declared = storable.whole_number(headers.get("content-length", ""), sys.maxsize)
        if declared is not None and declared > limit:
            await self._too_large(scope, receive, send, limit)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._too_large(scope, receive, send, limit)
                return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded" and not scope["path"].startswith(
            (HOOKS, PAGES)
        ):
            try:
                body = bytearray(form_to_json(bytes(body)))
            except InvalidInput as exc:
                await _refusal(scope, 400, exc.message)(scope, receive, send)
                return
            scope = _with_headers(
                scope,
                {b"content-type": b"application/json", b"content-length": str(len(body)).encode()},
            )
        elif scope["path"].startswith(AGENT_API) and body and content_type != "application/json":
            # Semaphore's agent sends its register and sync bodies with no Content-Type
            # (pkg/listener/selfhostedapi): they are JSON whatever they say. No CSRF risk:
            # these routes need an Authorization header, which no cross-site form sends.
            scope = _with_headers(scope, {b"content-type": b"application/json"})
        # Log pushes are agents' output, stored as sent: dispatch/logs.py makes them storable.
        if not scope["path"].startswith(LOG_PUSH) and (refused := _refused_body(body)):
            await _refusal(scope, 400, refused)(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _limit(self, scope: Scope, headers: Headers) -> int:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope["path"] == SNAPSHOT_UPLOAD and content_type == "multipart/form-data":
            return self.snapshot_max_bytes
        return self.max_bytes

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = _refusal(scope, 413, f"request body exceeds {limit} bytes")
        await response(scope, receive, send)


def _refusal(scope: Scope, status: int, message: str) -> Response:
    """The error as api/errors.py would answer it: a page for the web UI, JSON elsewhere."""
    if is_page(scope.get("path", "")) and "app" in scope:
        return error_page(Request(scope), status, message)
    return error_response(status, message)


def _with_headers(scope: Scope, replace: dict[bytes, bytes]) -> Scope:
    kept = [(k, v) for k, v in scope["headers"] if k.lower() not in replace]
    return {**scope, "headers": kept + list(replace.items())}


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
