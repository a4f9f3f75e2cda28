"""Where notifications may be sent: http(s) URLs, and private addresses only when allowed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from blockpost.errors import InvalidInput

SETTING = "BLOCKPOST_ALLOW_PRIVATE_NOTIFICATION_ENDPOINTS"
_LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def check_url(url: str, field: str, *, allow_private: bool) -> None:
    """An endpoint as saved: an absolute http(s) URL; a literal private address or
    localhost only with the setting (names are checked again when sent, once resolved)."""
    if len(url) > 2048:
        raise InvalidInput(field, "must be at most 2048 characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is no number)
    except ValueError:
        raise InvalidInput(field, "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(field, "must be an http:// or https:// URL with a host")
    if any(c.isspace() for c in url):
        raise InvalidInput(field, "must not contain spaces")
    host = parts.hostname.lower()
    literal = _literal(host)
    if allow_private:
        return
    if host in _LOCAL_NAMES or host.endswith(".localhost") or (literal and _private(literal)):
        raise InvalidInput(
            field, f"is a loopback or private address; the server sends there only with {SETTING}"
        )


async def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a delivery must not go to `url` now (its host resolves to a private address),
    or None. Resolution failures are left to the request itself to report."""
    if allow_private:
        return None
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for info in infos:
        address = str(info[4][0])
        if _private(address):
            return f"{host} resolves to {address}, a private address ({SETTING} is off)"
    return None
