"""Reads a posted UI form after checking its CSRF token."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from blockpost.errors import InvalidInput, PermissionDenied
from blockpost.web import csrf

MAX_FIELDS = 1000


class Form:
    """The fields of an `application/x-www-form-urlencoded` body, repeated names kept."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self._pairs if key == name), default)

    def prefixed(self, prefix: str) -> dict[str, str]:
        """`param.X=v` fields as {X: v}: the UI's way to post a mapping."""
        return {
            key.removeprefix(prefix): value for key, value in self._pairs if key.startswith(prefix)
        }


async def posted(request: Request) -> Form:
    """The posted form; its token was checked before the route ran (form_guard)."""
    form: Form | None = getattr(request.state, "form", None)
    if form is None:
        form = await _checked_form(request)
    return form


async def form_guard(request: Request) -> None:
    """Every page route's dependency: a POST without a valid token never reaches the route
    (a 403 page), so no form can forget the check."""
    if request.method == "POST":
        request.state.form = await _checked_form(request)


async def _checked_form(request: Request) -> Form:
    text = (await request.body()).decode("utf-8", "replace")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise InvalidInput("body", f"a form has at most {MAX_FIELDS} fields") from None
    form = Form(pairs)
    if not csrf.valid(request, form.get(csrf.FIELD)):
        raise PermissionDenied(
            "this form's security token is missing or out of date; reload the page and retry"
        )
    return form
