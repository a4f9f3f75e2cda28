"""The read-only git endpoint a snapshot workflow's jobs clone their snapshot from.

git's smart HTTP (protocol v0, stateless): `info/refs` then `git-upload-pack`. It takes
no user credentials: the job's own (HTTP Basic, in the SEMAPHORE_GIT_URL its payload
gave it) are good for its snapshot only, while it runs.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from fastapi import APIRouter, Query, Request, Response

from blockpost.api.deps import EngineDep, SealerDep, SessionDep
from blockpost.dispatch.payload import SNAPSHOT_GIT
from blockpost.errors import InvalidInput, NotAuthenticated
from blockpost.services import snapshots

router = APIRouter(prefix=SNAPSHOT_GIT.rstrip("/"), tags=["snapshots"], include_in_schema=False)
CHALLENGE = {"WWW-Authenticate": 'Basic realm="blockpost snapshots"'}
# A fetch request lists wants and haves: far below the body limit even unpacked.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def _basic(request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    user, colon, password = decoded.partition(":")
    if scheme.lower() != "basic" or not colon:
        raise NotAuthenticated("a job's snapshot credentials are required")
    return user, password


async def _authorized(
    request: Request, session: SessionDep, sealer: SealerDep, snapshot_id: str
) -> Response | None:
    try:
        job_id, token = _basic(request)
        await snapshots.check_job_access(session, sealer, snapshot_id, job_id, token)
    except NotAuthenticated as exc:
        return Response(exc.message + "\n", status_code=401, headers=CHALLENGE)
    return None


def _pkt_line(text: str) -> bytes:
    return f"{len(text) + 4:04x}{text}".encode()


@router.get("/{snapshot_id}.git/info/refs")
async def info_refs(
    snapshot_id: str,
    request: Request,
    session: SessionDep,
    sealer: SealerDep,
    engine: EngineDep,
    service: str = Query(default=""),
) -> Response:
    if (refused := await _authorized(request, session, sealer, snapshot_id)) is not None:
        return refused
    if service != "git-upload-pack":
        raise InvalidInput("service", "only git-upload-pack (fetch, clone) is served")
    refs = await snapshots.upload_pack(engine, snapshot_id, b"", advertise=True)
    body = _pkt_line("# service=git-upload-pack\n") + b"0000" + refs
    return Response(
        body,
        media_type="application/x-git-upload-pack-advertisement",
        headers={"Cache-Control": "no-cache"},
    )


@router.post("/{snapshot_id}.git/git-upload-pack")
async def git_upload_pack(
    snapshot_id: str, request: Request, session: SessionDep, sealer: SealerDep, engine: EngineDep
) -> Response:
    if (refused := await _authorized(request, session, sealer, snapshot_id)) is not None:
        return refused
    body = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, MAX_REQUEST_BYTES)
        except zlib.error:
            raise InvalidInput("body", "is not valid gzip") from None
        if inflater.unconsumed_tail:
            raise InvalidInput("body", f"unpacks to more than {MAX_REQUEST_BYTES} bytes")
    result = await snapshots.upload_pack(engine, snapshot_id, body, advertise=False)
    return Response(
        result,
        media_type="application/x-git-upload-pack-result",
        headers={"Cache-Control": "no-cache"},
    )
