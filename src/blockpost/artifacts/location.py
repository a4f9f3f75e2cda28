"""Where an S3 artifact store lives: `s3://bucket/prefix`, checked without loading boto3."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Semaphore's artifact CLI finds the key of a pulled object in its URL after exactly one
# path segment of [a-z0-9-] (where Semaphore puts its project id; pkg/api/signed_url.go),
# so the prefix is one such segment, and a location without one gets this.
DEFAULT_PREFIX = "blockpost"
PREFIX = re.compile(r"[a-z0-9-]+")


def parse_location(location: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix)."""
    parts = urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError("must be a directory, s3://BUCKET or s3://BUCKET/PREFIX")
    prefix = parts.path.strip("/") or DEFAULT_PREFIX
    if not PREFIX.fullmatch(prefix):
        raise ValueError(
            "the prefix must be one path segment of lowercase letters, digits and '-' "
            "(Semaphore's artifact CLI reads keys after exactly one)"
        )
    return parts.netloc, prefix
