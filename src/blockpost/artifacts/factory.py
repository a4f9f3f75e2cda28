"""The configured artifact store: a directory by default, S3 for s3:// locations."""

from __future__ import annotations

from pathlib import Path

from blockpost.artifacts.store import ArtifactStore, LocalStore
from blockpost.config import Settings


def open_store(settings: Settings) -> ArtifactStore:
    assert settings.secret_key, "prepare_data_dir() gives every server a secret key"
    location = settings.artifact_store
    if location.startswith("s3://"):
        from blockpost.artifacts.s3 import S3Store  # boto3 loads only when S3 is used

        return S3Store(
            location,
            url_seconds=settings.artifact_url_seconds,
            endpoint_url=settings.artifact_s3_endpoint_url,
            region=settings.artifact_s3_region,
            access_key_id=settings.artifact_s3_access_key_id,
            secret_access_key=settings.artifact_s3_secret_access_key,
        )
    root = Path(location) if location else settings.data_dir
    return LocalStore(root, settings.secret_key, settings.artifact_url_seconds)
