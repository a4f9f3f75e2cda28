"""The artifact store in S3-compatible object storage (boto3): presigned URLs to the store."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from blockpost.artifacts.location import parse_location
from blockpost.artifacts.store import ObjectInfo

CLIENT_METHODS = {
    "GET": "get_object",
    "HEAD": "head_object",
    "PUT": "put_object",
    "DELETE": "delete_object",
}


class S3Store:
    def __init__(
        self,
        location: str,
        *,
        url_seconds: int,
        endpoint_url: str = "",
        region: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
    ) -> None:
        self.bucket, self.prefix = parse_location(location)
        self.url_seconds = url_seconds
        options: dict[str, Any] = {
            # SigV4 everywhere; path style for endpoints that are not AWS (MinIO, moto...).
            "config": Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            )
        }
        if endpoint_url:
            options["endpoint_url"] = endpoint_url
        if region:
            options["region_name"] = region
        if access_key_id:
            options["aws_access_key_id"] = access_key_id
            options["aws_secret_access_key"] = secret_access_key
        self.client = boto3.client("s3", **options)

    def _object(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def _key(self, name: str) -> str:
        return name.removeprefix(f"{self.prefix}/")

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            head = await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self._object(key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(key, head["ContentLength"], head["LastModified"])

    async def list(self, prefix: str) -> list[ObjectInfo]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self._object(prefix)}/"):
            for item in page.get("Contents", []):
                found.append(ObjectInfo(self._key(item["Key"]), item["Size"], item["LastModified"]))
        return sorted(found, key=lambda item: item.key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(
            self.client.delete_object, Bucket=self.bucket, Key=self._object(key)
        )

    def signed_url(self, key: str, method: str, base_url: str) -> str:
        url: str = self.client.generate_presigned_url(
            CLIENT_METHODS[method],
            Params={"Bucket": self.bucket, "Key": self._object(key)},
            ExpiresIn=self.url_seconds,
        )
        return url
