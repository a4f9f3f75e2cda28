"""The artifact stores behind their one interface: the local directory (streamed writes,
listing, deletes, signed URLs) and S3 through a moto server; retention's rules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from blockpost.artifacts.factory import open_store
from blockpost.artifacts.retention import age_text, expired, parse_age
from blockpost.artifacts.store import ArtifactStore, LocalStore, route_prefix
from blockpost.config import Settings
from blockpost.errors import Conflict, InvalidInput

KEY = "artifacts/projects/p1/dist/app.bin"


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path, "secret", url_seconds=60)


async def test_the_local_store_writes_a_stream_and_lists_stats_and_deletes_it(
    local: LocalStore,
) -> None:
    assert await local.write(KEY, chunks(b"ab", b"cd" * 1_000_000)) == 2_000_002
    info = await local.stat(KEY)
    assert info is not None
    assert info.size == 2_000_002
    assert abs((datetime.now(UTC) - info.modified).total_seconds()) < 60
    await local.write("artifacts/projects/p1/top.txt", chunks(b"t"))
    listed = await local.list("artifacts/projects/p1")
    assert [item.key for item in listed] == [KEY, "artifacts/projects/p1/top.txt"]
    assert await local.list("artifacts/projects/p2") == []
    assert await local.stat("artifacts/projects/p1/dist") is None  # a directory is no file
    await local.delete(KEY)
    await local.delete(KEY)  # twice is fine
    assert not (local.root / "artifacts/projects/p1/dist").exists()  # no empty directory left
    assert (local.root / ".uploads").is_dir()
    assert list((local.root / ".uploads").iterdir()) == []


async def test_a_local_write_replaces_the_file_whole(local: LocalStore) -> None:
    await local.write(KEY, chunks(b"old contents"))
    await local.write(KEY, chunks(b"new"))
    assert local.path_of(KEY).read_bytes() == b"new"


async def test_a_file_and_a_directory_cannot_share_a_name(local: LocalStore) -> None:
    await local.write(KEY, chunks(b"x"))
    with pytest.raises(Conflict):
        await local.write(f"{KEY}/inner", chunks(b"y"))
    with pytest.raises(Conflict):
        await local.write("artifacts/projects/p1/dist", chunks(b"y"))
    assert list((local.root / ".uploads").iterdir()) == []


def test_local_signed_urls_name_the_key_and_verify_only_as_signed(local: LocalStore) -> None:
    url = local.signed_url(KEY, "PUT", "http://127.0.0.1:8000/")
    assert url.startswith(f"http://127.0.0.1:8000/{KEY}?expires=")
    parts = httpx.URL(url).params
    expires, signature = parts["expires"], parts["signature"]
    assert local.verify(KEY, "PUT", expires, signature)
    assert not local.verify(KEY, "GET", expires, signature)
    assert not local.verify(KEY + "x", "PUT", expires, signature)
    assert not local.verify(KEY, "PUT", str(int(expires) + 1), signature)
    assert not local.verify(KEY, "PUT", "soon", signature)
    other = LocalStore(local.root, "another secret", url_seconds=60)
    assert not other.verify(KEY, "PUT", expires, signature)
    past = str(int(time.time()) - 1)
    assert not local.verify(KEY, "PUT", past, local._sign(KEY, "PUT", int(past)))


def test_urls_to_other_hosts_have_the_two_segments_the_cli_skips() -> None:
    assert route_prefix("http://127.0.0.1:8000") == ""
    assert route_prefix("https://ci.example.com") == "/artifact-store/v1"


# --- S3 through a local moto server -----------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - the test extras install it
        pytest.skip(f"moto[server] is not installed: {exc}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
    except OSError as exc:  # pragma: no cover
        pytest.skip(f"moto's S3 server cannot start: {exc}")
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str) -> dict[str, str]:
    """A fresh bucket on the moto server, and the options that reach it."""
    import boto3

    bucket = f"bp-{time.monotonic_ns()}"
    options = {
        "endpoint_url": s3_endpoint,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return {"location": f"s3://{bucket}/ci", **options}


@pytest.fixture
def s3_store(s3_settings: dict[str, str], tmp_path: Path) -> ArtifactStore:
    """The store a server configured for that bucket opens."""
    return open_store(
        Settings(
            secret_key="k",
            data_dir=tmp_path,
            artifact_store=s3_settings["location"],
            artifact_s3_endpoint_url=s3_settings["endpoint_url"],
            artifact_s3_region=s3_settings["region"],
            artifact_s3_access_key_id=s3_settings["access_key_id"],
            artifact_s3_secret_access_key=s3_settings["secret_access_key"],
        )
    )


async def test_the_s3_store_hands_out_presigned_urls_that_move_the_bytes(
    s3_settings: dict[str, str],
) -> None:
    from blockpost.artifacts.s3 import S3Store

    options = dict(s3_settings)
    store = S3Store(options.pop("location"), url_seconds=60, **options)
    async with httpx.AsyncClient() as http:
        head = await http.head(store.signed_url(KEY, "HEAD", ""))
        assert head.status_code == 404
        put = await http.put(store.signed_url(KEY, "PUT", ""), content=b"s3 bytes")
        assert put.status_code == 200, put.text
        info = await store.stat(KEY)
        assert info is not None
        assert info.size == 8
        assert [item.key for item in await store.list("artifacts/projects/p1")] == [KEY]
        assert await store.list("artifacts/projects/p") == []  # a directory, not a prefix
        got = await http.get(store.signed_url(KEY, "GET", ""))
        assert got.content == b"s3 bytes"
        assert (await http.head(store.signed_url(KEY, "HEAD", ""))).status_code == 200
        deleted = await http.delete(store.signed_url(KEY, "DELETE", ""))
        assert deleted.status_code == 204
    assert await store.stat(KEY) is None
    await store.delete(KEY)  # a missing object is no error


def test_an_s3_location_needs_a_bucket_and_a_prefix_the_cli_can_skip() -> None:
    from blockpost.artifacts.s3 import parse_location

    assert parse_location("s3://b/ci-artifacts/") == ("b", "ci-artifacts")
    assert parse_location("s3://b") == ("b", "blockpost")
    with pytest.raises(ValueError, match="s3://BUCKET"):
        parse_location("s3:///nobucket")
    for prefix in ("some/prefix", "Upper", "dots.too"):
        with pytest.raises(ValueError, match="one path segment"):
            parse_location(f"s3://b/{prefix}")


# --- retention rules, as Semaphore's artifacthub matches them ---------------------------


def test_ages_read_and_print_in_semaphores_words() -> None:
    assert parse_age("1 day", "age") == 86400
    assert parse_age("2 weeks", "age") == 14 * 86400
    assert parse_age("3 months", "age") == 90 * 86400
    assert age_text(parse_age("12 months", "age")) == "12 months"
    assert age_text(365 * 86400) == "1 year"
    assert age_text(7 * 86400) == "1 week"
    assert age_text(3 * 86400) == "3 days"
    for bad in ("0 days", "13 days", "1 hour", "1day", 5, None):
        with pytest.raises(InvalidInput, match="age"):
            parse_age(bad, "age")


def test_the_first_matching_rule_decides_as_in_semaphores_tests() -> None:
    day = timedelta(days=1).total_seconds()
    rules = [
        {"selector": "/test-results/**/*", "age": 12 * 86400},
        {"selector": "/**/*", "age": 7 * 86400},
    ]
    key = "artifacts/projects/p1/release/v1.exe"
    assert expired(rules, "projects", key, 16 * day)
    assert not expired(rules, "projects", key, 2 * day)
    assert not expired(rules, "projects", "artifacts/projects/p1/test-results/a.txt", 8 * day)
    assert expired(rules, "projects", "artifacts/projects/p1/a/a.txt", 8 * day)
    job_rules = [{"selector": "/job-examples/*", "age": 2 * 86400}]
    assert not expired(job_rules, "jobs", "artifacts/jobs/j1/hello/a.txt", 8 * day)
    assert expired(job_rules, "jobs", "artifacts/jobs/j1/job-examples/a.txt", 4 * day)
    assert not expired(job_rules, "jobs", "artifacts/jobs/j1/job-examples/x/a.txt", 4 * day)


async def test_a_write_beside_a_delete_emptying_its_directory_still_lands(
    local: LocalStore,
) -> None:
    """Deleting a directory's last file removes the directory; a write renaming its upload
    into that directory at the same moment must make it again, not fail."""
    for n in range(300):
        await local.write(f"artifacts/jobs/j/dir/{n}-old", chunks(b"x"))
        await asyncio.gather(
            local.write(f"artifacts/jobs/j/dir/{n}-new", chunks(b"y" * 10)),
            local.delete(f"artifacts/jobs/j/dir/{n}-old"),
        )
        assert local.path_of(f"artifacts/jobs/j/dir/{n}-new").read_bytes() == b"y" * 10
        await local.delete(f"artifacts/jobs/j/dir/{n}-new")
