"""Password hashing and opaque-token generation; tokens are only ever stored as hashes."""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults (RFC 9106's low-memory profile). The test suite swaps in its
# CHEAPEST profile, meant for tests: the hashing stays real, each user no longer costs 0.2 s.
PASSWORD_HASHER = PasswordHasher()

TOKEN_BYTES = 32


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the login names no user, so both paths cost the same time.
    Made on first use: hashing costs every process that imports this module ~0.6 s of CPU,
    and agents and CLI commands never verify a password."""
    return PASSWORD_HASHER.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        verified = PASSWORD_HASHER.verify(password_hash or _dummy_hash(), password)
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
