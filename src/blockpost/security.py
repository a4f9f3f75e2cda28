"""Password hashing and opaque-token generation; tokens are only ever stored as hashes."""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

TOKEN_BYTES = 32


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the login names no user, so both paths cost the same time.
    Made on first use: hashing costs every process that imports this module ~0.6 s of CPU,
    and agents and CLI commands never verify a password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        verified = _hasher.verify(password_hash or _dummy_hash(), password)
        return verified and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    # Hex, like Semaphore's tokens: URL-safe and never starting with "-", which command
    # lines would read as an option (`blockpost agent --token -x…`).
    return secrets.token_hex(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)
