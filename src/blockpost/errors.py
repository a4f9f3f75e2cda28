"""Domain error hierarchy; api/errors.py maps each class to one HTTP status."""

from __future__ import annotations

from typing import Any


class BlockpostError(Exception):
    """Base of every error a caller may see; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Extra keys for the error response beside `message`."""
        return {}


class InvalidInput(BlockpostError):
    """A value the caller sent is wrong; names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotAuthenticated(BlockpostError):
    """No credentials, or credentials that do not identify a user."""


class PermissionDenied(BlockpostError):
    """The caller can see the resource but may not do this to it."""


class NotFound(BlockpostError):
    """No such resource, or one the caller may not see (never distinguished)."""


class Conflict(BlockpostError):
    """The request clashes with the current state, e.g. a duplicate name."""


class FailedPrecondition(BlockpostError):
    """Well-formed, but the current state refuses it where Semaphore answers 422 (a
    duplicate project name), not 409."""


class Unavailable(BlockpostError):
    """Something the request needs from outside (a git repository) cannot be reached."""
