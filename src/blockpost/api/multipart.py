"""multipart/form-data bodies (`sem create workflow` uploads its archive so), read whole.

The body middleware has already bounded the body's size; this only splits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from blockpost.errors import InvalidInput

_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_PARAM = re.compile(r';\s*([a-z*]+)="((?:[^"\\]|\\.)*)"', re.IGNORECASE)
MAX_PARTS = 100


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def is_multipart(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "multipart/form-data"


def parse(content_type: str, body: bytes) -> dict[str, Part]:
    """The parts by name (the last of a repeated name wins); 400 naming `body` when the
    body is not the multipart its Content-Type says."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise InvalidInput("body", "multipart/form-data needs a boundary in its Content-Type")
    delimiter = b"--" + found.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise InvalidInput("body", "is not complete multipart/form-data")
    if len(chunks) - 2 > MAX_PARTS:
        raise InvalidInput("body", f"has more than {MAX_PARTS} parts")
    parts: dict[str, Part] = {}
    for chunk in chunks[1:-1]:
        part = _part(chunk)
        parts[part.name] = part
    return parts


def _part(chunk: bytes) -> Part:
    if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
        raise InvalidInput("body", "is not well-formed multipart/form-data")
    head, separator, data = chunk[2:-2].partition(b"\r\n\r\n")
    if not separator:
        raise InvalidInput("body", "a multipart part has no blank line after its headers")
    headers = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    params = {
        key.lower(): value.replace('\\"', '"')
        for key, value in _PARAM.findall(headers.get("content-disposition", ""))
    }
    if "name" not in params:
        raise InvalidInput("body", "a multipart part has no name in its Content-Disposition")
    return Part(
        name=params["name"],
        filename=params.get("filename"),
        content_type=headers.get("content-type", "text/plain"),
        data=data,
    )
