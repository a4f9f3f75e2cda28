"""Encryption at rest: Fernet with a key derived from the server's secret key."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class Sealer:
    """Seals JSON-able values into opaque strings and opens them again."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"blockpost-at-rest\0" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, sealed: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise ValueError("sealed with another secret key") from None
