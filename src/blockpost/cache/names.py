"""Cache key names as Semaphore's cache CLI allows them, and where their archives live."""

from __future__ import annotations

from blockpost.errors import InvalidInput

ROOT = "cache"  # beside the artifacts' root in the one store
MAX_NAME_BYTES = 255  # one file name in the local store
COMPRESSIONS = ("zstd", "gzip")


def check_name(name: object, where: str = "key") -> str:
    """A key is one path segment: the CLI turns '/' into '-' before it asks (as Semaphore's
    NormalizeKey does), so a '/' here is refused, as are '.', '..', control characters and
    backslashes, which no file name of the store may hold."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(where, "must be a non-empty string")
    if name in (".", ".."):
        raise InvalidInput(where, "must not be '.' or '..'")
    if "/" in name or "\\" in name:
        raise InvalidInput(where, "must not contain '/' or '\\' (the cache CLI turns '/' into '-')")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise InvalidInput(where, "must not contain control characters")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise InvalidInput(where, f"must be at most {MAX_NAME_BYTES} bytes")
    return name


def check_compression(value: object, where: str = "compression") -> str:
    if value not in COMPRESSIONS:
        raise InvalidInput(where, f"must be one of {', '.join(COMPRESSIONS)}")
    return str(value)


def project_prefix(project_id: str) -> str:
    return f"{ROOT}/{project_id}"


def object_key(project_id: str, name: str) -> str:
    return f"{project_prefix(project_id)}/{name}"


def human_size(size: int) -> str:
    """Sizes as the cache CLI prints them (files.HumanReadableSize): 512.0, 1.5K, 9.0G."""
    if size < 1024:
        return f"{float(size):.1f}"
    divisor, exponent = 1024, 0
    quotient = size // 1024
    while quotient >= 1024:
        divisor *= 1024
        exponent += 1
        quotient //= 1024
    return f"{size / divisor:.1f}{'KMGTPE'[exponent]}"
