"""The OpenAPI document as the server behaves: real error statuses, summaries, examples, tags."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from blockpost.api.deps import AdminDep
from blockpost.api.examples import REQUEST_EXAMPLES
from blockpost.api.middleware import is_protocol, is_public

ERROR_SCHEMA = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
# FastAPI documents a 422 with these for every route with parameters; api/errors.py answers
# those validation errors with 400 {"message"}, so they are never sent.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

# The order a user reads in: their projects and what runs in them first, administration
# after, and the agent protocol (which only agents call) last. Tags not named here (routes
# added later) come between the first group and administration.
USER_TAGS = (
    "projects",
    "workflows",
    "pipelines",
    "jobs",
    "promotions",
    "deployment targets",
    "schedules",
    "tasks (Semaphore UI)",
    "secrets",
    "yaml",
)
ADMIN_TAGS = (
    "auth",
    "tokens",
    "users",
    "agent types",
    "agents",
    "audit",
    "meta",
)
LAST_TAG = "agent protocol"

STATUS_DESCRIPTIONS = {
    400: "Bad input: the message names the field and the reason",
    401: "Missing, malformed, unknown or expired credentials",
    403: "The caller may see the resource but not do this to it",
    404: "No such resource, or one the caller cannot see",
    409: "Clashes with the current state, e.g. a name already taken",
    413: "The body exceeds BLOCKPOST_MAX_BODY_BYTES",
    422: "Something the request needs from outside cannot be reached",
    429: "Too many failed attempts; retry after the Retry-After header's seconds",
}

# What a route's shape does not show, by (METHOD, path): statuses only its own code sends,
# and (None) derived ones it never sends.
EXTRA_STATUSES: dict[tuple[str, str], dict[int, str | None]] = {
    ("POST", "/api/v1alpha/yaml"): {403: None, 409: None},
    ("DELETE", "/api/user/tokens/{token_id}"): {403: None},
    ("POST", "/api/auth/login"): {
        401: "Wrong login or password",
        429: STATUS_DESCRIPTIONS[429],
    },
    ("POST", "/api/v1alpha/plumber-workflows"): {422: "The repository cannot be fetched"},
    ("POST", "/api/v1alpha/plumber-workflows/{wf_id}/reschedule"): {
        422: "The repository cannot be fetched"
    },
    ("POST", "/api/v1alpha/schedules/{schedule_id}/run_now"): {
        422: "The repository cannot be fetched"
    },
    ("POST", "/api/project/{project}/tasks"): {422: "The repository cannot be fetched"},
    ("POST", "/api/v1/logs/{job_id}"): {
        413: "Too many lines in one push",
        422: "The job's log is full",
    },
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_DESCRIPTION = (
    "The API token: paste it alone, or as `Token <api token>` or `Bearer <api token>`"
)


def install_openapi(app: FastAPI) -> None:
    """Replaces app.openapi with one that builds the corrected document once."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(document(app))
        return built

    app.openapi = openapi  # type: ignore[method-assign]


def document(app: FastAPI) -> dict[str, Any]:
    spec = copy.deepcopy(FastAPI.openapi(app))
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
        "example": {"message": "metadata.name: is required"},
    }
    for path, route, method in _operations(app):
        operation = spec["paths"][path][method.lower()]
        operation["summary"] = summary(route)
        operation["responses"] = _responses(path, route, method, operation)
        _add_example(method, path, operation)
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemes = spec["components"].get("securitySchemes", {})
    for scheme in schemes.values():
        scheme["description"] = SECURITY_DESCRIPTION
    _order_tags(spec)
    return spec


def _operations(app: FastAPI) -> Iterator[tuple[str, APIRoute, str]]:
    """(path as documented, route, method) of every documented operation."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods):
                yield context.path_format, route, method


def summary(route: APIRoute) -> str:
    """The route's own summary, else its docstring's first sentence when that reads as one,
    else a title made from the function's name."""
    if route.summary:
        return route.summary
    first = re.split(r"(?<=[.;:])\s", (route.endpoint.__doc__ or "").strip(), maxsplit=1)[0]
    first = " ".join(first.split()).rstrip(".;:")
    readable = first.count("`") % 2 == 0 and len(first.split()) >= 3
    if first[:1].isupper() and readable and len(first) <= 80:
        return first
    return route.name.replace("_", " ").capitalize()


def _responses(
    path: str, route: APIRoute, method: str, operation: dict[str, Any]
) -> dict[str, Any]:
    kept = {
        code: response
        for code, response in operation.get("responses", {}).items()
        if not _is_fastapi_validation(response)
    }
    has_body = "requestBody" in operation
    for status, description in _error_statuses(path, route, method, has_body).items():
        kept.setdefault(str(status), {"description": description})
    for code, response in kept.items():
        if int(code) >= 400 and "content" not in response:
            response["content"] = {"application/json": {"schema": ERROR_REF}}
    return dict(sorted(kept.items()))


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")


def _error_statuses(path: str, route: APIRoute, method: str, has_body: bool) -> dict[int, str]:
    """Derived from what every route of this kind does (middleware, dependencies, error
    mapping), plus EXTRA_STATUSES for what only the route's own code shows."""
    statuses: dict[int, str] = {}
    names_something = "{" in path or has_body
    if has_body or _parameters(route.dependant):
        statuses[400] = STATUS_DESCRIPTIONS[400]
    if not is_public(path):
        statuses[401] = STATUS_DESCRIPTIONS[401]
        if is_protocol(path):
            # A removed agent, or a registration token of no agent type.
            statuses[404] = "The agent or its type is gone"
        elif _needs_admin(route.dependant) or (method in WRITE_METHODS and names_something):
            # A change to a project's things needs its owner, a member or an administrator;
            # reading what the caller cannot see is a 404 instead.
            statuses[403] = STATUS_DESCRIPTIONS[403]
        if method in WRITE_METHODS - {"DELETE"} and names_something:
            # A duplicate name, or a row written by a concurrent request first.
            statuses[409] = STATUS_DESCRIPTIONS[409]
    if "{" in path:
        statuses[404] = STATUS_DESCRIPTIONS[404]
    if has_body:
        statuses[413] = STATUS_DESCRIPTIONS[413]
    for status, description in EXTRA_STATUSES.get((method, path), {}).items():
        if description is None:
            statuses.pop(status, None)
        else:
            statuses[status] = description
    return statuses


def _parameters(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.body_params:
        return True
    return any(_parameters(sub) for sub in dependant.dependencies)


_ADMIN = get_args(AdminDep)[1].dependency


def _needs_admin(dependant: Dependant) -> bool:
    return dependant.call is _ADMIN or any(_needs_admin(sub) for sub in dependant.dependencies)


def _add_example(method: str, path: str, operation: dict[str, Any]) -> None:
    example = REQUEST_EXAMPLES.get((method, path))
    body = operation.get("requestBody")
    if body is None or example is None:
        return
    for media_type in body.get("content", {}).values():
        media_type["example"] = example


def _order_tags(spec: dict[str, Any]) -> None:
    used: list[str] = []
    for operations in spec["paths"].values():
        for operation in operations.values():
            used.extend(t for t in operation.get("tags", []) if t not in used)
    named = (*USER_TAGS, *ADMIN_TAGS, LAST_TAG)
    later = [t for t in used if t not in named]
    tags = [t for t in (*USER_TAGS, *later, *ADMIN_TAGS, LAST_TAG) if t in used]
    spec["tags"] = [{"name": t} for t in tags]
    rank = {t: i for i, t in enumerate(tags)}

    def position(item: tuple[str, dict[str, Any]]) -> int:
        first = next(iter(item[1].values()), {})
        return min((rank[t] for t in first.get("tags", [])), default=len(rank))

    spec["paths"] = dict(sorted(spec["paths"].items(), key=position))
