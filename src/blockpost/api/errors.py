"""Maps every error to one JSON shape, `{"message": ...}`, with the right status code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from blockpost.dispatch.logs import LogFull, TooManyLines
from blockpost.errors import (
    BlockpostError,
    Conflict,
    FailedPrecondition,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from blockpost.pipeline_yaml import PipelineInvalid
from blockpost.services.login_limit import TooManyAttempts
from blockpost.web.paths import is_page
from blockpost.web.render import error_page

log = logging.getLogger(__name__)

STATUS_OF: dict[type[BlockpostError], int] = {
    InvalidInput: 400,
    PipelineInvalid: 400,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyLines: 413,
    FailedPrecondition: 422,
    LogFull: 422,
    Unavailable: 422,
    TooManyAttempts: 429,
}
AUTH_CHALLENGE = {"WWW-Authenticate": 'Token realm="blockpost"'}

_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
}


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = AUTH_CHALLENGE if status == 401 else None
    return JSONResponse({"message": message, **extra}, status_code=status, headers=headers)


def _answer(request: Request, status: int, message: str, **extra: Any) -> Response:
    """JSON for the API, an HTML page with the same message for the web UI's pages."""
    if is_page(request.url.path):
        return error_page(request, status, message)
    return error_response(status, message, **extra)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in {"body", "query", "path"} else []
    if not parts:
        return "body" if loc and loc[0] == "body" else ".".join(str(p) for p in loc) or "request"
    return ".".join(parts)


def validation_message(errors: list[dict[str, Any]]) -> str:
    described = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            # For JSON syntax errors pydantic puts the character offset where a field would be.
            problem = err.get("ctx", {}).get("error", "parse error")
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            described.append(f"body: is not valid JSON ({problem}{where})")
            continue
        reason = _REASONS.get(err.get("type", ""), err.get("msg", "is invalid"))
        described.append(f"{_field(loc)}: {reason}")
    return "; ".join(dict.fromkeys(described))


async def _too_many(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyAttempts)
    response = _answer(request, 429, exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BlockpostError)
    status = next((code for cls, code in STATUS_OF.items() if isinstance(exc, cls)), 400)
    return _answer(request, status, exc.message, **exc.details())


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _answer(request, 400, validation_message(list(exc.errors())))


def _unreadable_body(cause: BaseException | None) -> str:
    """What FastAPI calls "an error parsing the body" when the JSON parser raised other than
    for a syntax error (nesting is bounded before it runs: api/middleware.py)."""
    if isinstance(cause, UnicodeDecodeError):
        return f"body: is not UTF-8 ({cause.reason} at byte {cause.start})"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return f"body: holds a number of more than {sys.get_int_max_str_digits()} digits"
    return "body: cannot be read as JSON"


def _methods_of(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette's Allow names one route's)."""

    def routes(within: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
        for route in within:
            included = getattr(route, "original_router", None)  # how FastAPI keeps routers
            yield from routes(included.routes) if included is not None else (route,)

    path = request.url.path
    methods: set[str] = set()
    for route in routes(request.app.router.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods - {"HEAD"})


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = "no such endpoint"
    elif exc.status_code == 405:
        # e.g. `sem apply` of a file without metadata.id: PATCH /api/v1alpha/projects/
        allowed = ", ".join(_methods_of(request))
        message = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    elif exc.status_code == 400 and message == "There was an error parsing the body":
        message = _unreadable_body(exc.__cause__)
    if is_page(request.url.path):
        return error_page(request, exc.status_code, message)
    return JSONResponse(
        {"message": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _integrity(request: Request, exc: Exception) -> Response:
    # Services check for clashes first; this catches the race where two requests pass together.
    log.info("integrity error mapped to 409: %s", exc)
    return _answer(request, 409, "conflicts with a resource created at the same time; retry")


async def _database_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        log.warning("database connection lost: %s", exc.orig)
        return _answer(request, 503, "the database connection was lost; retry")
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return _answer(request, 500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TooManyAttempts, _too_many)
    app.add_exception_handler(BlockpostError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
