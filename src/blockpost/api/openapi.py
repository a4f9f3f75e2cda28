"""The OpenAPI document as the server behaves: real error statuses, summaries, examples, tags."""

from __future__ import annotations

import copy
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

# Summaries by (METHOD, path) where the route's docstring does not make one: routes served at
# two paths under different names (/api/v1alpha/tasks are the schedules' routes), and
# docstrings whose first sentence is a detail rather than what the route does.
_SCHEDULES = "/api/v1alpha/schedules"
_TASKS = "/api/v1alpha/tasks"
_SECRETS = "/api/v1beta/secrets"
_TARGETS = "/api/v1alpha/deployment_targets"
SUMMARIES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1alpha/projects/{project}/members"): "The project's members, owner first",
    ("PUT", "/api/v1alpha/projects/{project}/members/{subject_id}/role"): (
        "Makes a user a member of the project (Semaphore's role assignment)"
    ),
    ("DELETE", "/api/v1alpha/projects/{project}/members/{subject_id}/role"): (
        "Removes a member from the project (Semaphore's role retraction)"
    ),
    ("DELETE", "/api/v1alpha/projects/{project}/members/{user}"): (
        "Removes a member from the project (by uuid, id or username)"
    ),
    ("GET", "/api/v1alpha/plumber-workflows"): (
        "The project's workflows, newest first, 30 to a page with a `link` header"
    ),
    ("GET", "/api/v1alpha/pipelines"): (
        "A project's or workflow's pipelines, newest first, 30 to a page with a `link` header"
    ),
    ("PATCH", "/api/v1alpha/pipelines/{ppl_id}"): "Stops the pipeline (`terminate_request`)",
    ("POST", "/api/v1alpha/pipelines/{ppl_id}/partial_rebuild"): (
        "Runs the pipeline's failed blocks again in a new pipeline"
    ),
    ("GET", "/api/v1alpha/jobs"): "Jobs the caller can see, newest first, by state",
    ("POST", "/api/v1alpha/jobs"): "Runs a standalone job (as `sem create job`)",
    ("GET", "/api/v1alpha/jobs/{job_id}"): "Describe job",
    ("POST", "/api/v1alpha/jobs/{job_id}/stop"): "Stops the job",
    ("GET", "/api/v1alpha/logs/{job_id}"): "The job's log events from index `start`",
    ("POST", _TARGETS): "Creates a deployment target (once per `unique_token`)",
    ("PATCH", _TARGETS + "/{target_id}"): "Changes the fields of the target that are sent",
    ("DELETE", _TARGETS + "/{target_id}"): "Deletes the target",
    ("PATCH", _TARGETS + "/{target_id}/activate"): "Activates a cordoned target",
    ("POST", _SCHEDULES): "Creates or updates a schedule from its YAML",
    ("DELETE", _SCHEDULES + "/{schedule_id}"): "Deletes the schedule",
    ("POST", _SCHEDULES + "/{schedule_id}/run_now"): "Runs the schedule's pipeline now",
    ("POST", _SCHEDULES + "/{schedule_id}/pause"): "Pauses the schedule",
    ("POST", _SCHEDULES + "/{schedule_id}/unpause"): "Unpauses the schedule",
    ("GET", _TASKS): "The project's tasks by name, 30 to a page with a `link` header",
    ("POST", _TASKS): "Creates or updates a task from its YAML",
    ("GET", _TASKS + "/{schedule_id}"): "The task and its last 10 triggers, newest first",
    ("DELETE", _TASKS + "/{schedule_id}"): "Deletes the task",
    ("POST", _TASKS + "/{schedule_id}/run_now"): "Runs the task's pipeline now",
    ("POST", _TASKS + "/{schedule_id}/pause"): "Pauses the task",
    ("POST", _TASKS + "/{schedule_id}/unpause"): "Unpauses the task",
    ("GET", _SECRETS): "Global secrets: names and paths, never values",
    ("POST", _SECRETS): "Creates a global secret, usable by every project (administrators only)",
    (
        "GET",
        _SECRETS + "/{name}",
    ): "Describes a global secret with its values (administrators only)",
    ("DELETE", _SECRETS + "/{name}"): "Deletes a global secret (administrators only)",
    ("POST", "/api/v1alpha/yaml"): "Checks a pipeline YAML the way a run would",
    ("GET", "/api/v1alpha/notifications/{id_or_name}/deliveries"): (
        "The notification's deliveries, newest first"
    ),
    ("GET", "/api/v1alpha/agents/{name}"): "Describes a connected agent",
    ("POST", "/api/auth/logout"): "Ends the browser session",
    ("GET", "/healthz"): "Answers while the server runs (no credentials needed)",
    ("GET", "/metrics"): "Queue, job, pipeline and agent counts in Prometheus text format",
    ("GET", "/api/v1/self_hosted_agents/metrics"): "Jobs and agents of the type, for autoscalers",
    ("POST", "/api/v1/self_hosted_agents/register"): (
        "Registers an agent with its type's registration token"
    ),
    ("POST", "/api/v1/self_hosted_agents/disconnect"): "The calling agent leaves",
    ("POST", "/api/v1/logs/{job_id}"): "The agent pushes its job's log lines from `start_from`",
}
# Served at /api/v1 and /api/v1beta alike (sem uses v1beta); PUT only at v1beta.
for _version in ("v1", "v1beta"):
    _PROJECT_SECRET = f"/api/{_version}/projects/{{project}}/secrets"
    SUMMARIES |= {
        ("POST", _PROJECT_SECRET): "Creates a secret only this project's pipelines can use",
        ("GET", _PROJECT_SECRET + "/{name}"): "Describes a project secret with its values",
        ("PATCH", _PROJECT_SECRET + "/{name}"): (
            "Changes a project secret's name, env vars or files"
        ),
        ("DELETE", _PROJECT_SECRET + "/{name}"): "Deletes a project secret",
    }
SUMMARIES["PUT", "/api/v1beta/projects/{project}/secrets/{name}"] = SUMMARIES[
    "PATCH", "/api/v1beta/projects/{project}/secrets/{name}"
]
for _kind, _who in (
    ("notification", "administrators"),
    ("dashboard", "its creator or an administrator"),
):
    for _method in ("PUT", "PATCH"):
        SUMMARIES[_method, f"/api/v1alpha/{_kind}s/{{id_or_name}}"] = (
            f"Changes the {_kind}; a `metadata.name` renames it ({_who})"
        )
    SUMMARIES["DELETE", f"/api/v1alpha/{_kind}s/{{id_or_name}}"] = f"Deletes the {_kind} ({_who})"

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
        operation["summary"] = SUMMARIES.get((method, path)) or summary(route)
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
    first = _first_sentence(" ".join((route.endpoint.__doc__ or "").split()))
    readable = first.count("`") % 2 == 0 and len(first.split()) >= 3
    if first[:1].isupper() and readable and len(first) <= 80:
        return first
    return route.name.replace("_", " ").capitalize()


def _first_sentence(text: str) -> str:
    """Up to the first `.`, `;` or `:` that ends a clause, not one inside parentheses
    ("at `path` (default: the top) of...")."""
    depth = 0
    for at, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char in ".;:" and text[at + 1 : at + 2] in ("", " "):
            return text[:at]
    return text


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
