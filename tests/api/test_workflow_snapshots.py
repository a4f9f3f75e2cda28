"""Workflow snapshots (`sem create workflow`): an uploaded tar.gz runs instead of a git
reference, and its jobs clone the snapshot from the server with their own credentials."""

from __future__ import annotations

import base64
import io
import subprocess
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from blockpost.config import Settings
from tests.api.engine_rig import API, EngineRig, block, make_rig, pipeline_yaml

GIT_RIG = pipeline_yaml(block("From git", "git-job"))
SNAPSHOT_YAML = pipeline_yaml(block("From snapshot", "snapshot-job"))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"sync_hold_seconds": 0.0, "max_body_bytes": 65536, "snapshot_max_bytes": 262144}
    )


@pytest.fixture
async def rig(app: FastAPI, admin: httpx.AsyncClient, tmp_path: Path) -> AsyncIterator[EngineRig]:
    made = await make_rig(app, admin, tmp_path, GIT_RIG)
    yield made
    await made.close()


def tgz(files: dict[str, str], *, symlinks: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return out.getvalue()


def cli_multipart(fields: dict[str, str], archive: bytes) -> tuple[bytes, str]:
    """The body Go's multipart.Writer makes for the CLI's PostMultipart: the file part
    first (CreateFormFile: application/octet-stream, the archive's base name), then the
    fields, with a 60-hex-digit boundary."""
    boundary = uuid.uuid4().hex + uuid.uuid4().hex[:28]
    parts = [
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="snapshot_archive"; filename="snapshot.tgz"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + archive
        + b"\r\n"
    ]
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def create_snapshot(
    api: httpx.AsyncClient, project_id: str, archive: bytes, label: str = "snapshot"
) -> httpx.Response:
    body, content_type = cli_multipart(
        {"project_id": project_id, "label": label, "request_token": str(uuid.uuid4())}, archive
    )
    return await api.post(
        f"{API}/plumber-workflows", content=body, headers={"Content-Type": content_type}
    )


def read_pack(answer: bytes, sha: str, git_dir: Path) -> tuple[bytes, str]:
    """run.sh and the tree listing at `sha` from an upload-pack answer."""
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    pack = answer[answer.index(b"PACK") :]
    git = ["git", "--git-dir", str(git_dir)]
    subprocess.run([*git, "index-pack", "--stdin"], input=pack, check=True, capture_output=True)
    shown = subprocess.run([*git, "show", f"{sha}:run.sh"], capture_output=True, check=True)
    tree = subprocess.run([*git, "ls-tree", sha], capture_output=True, check=True, text=True)
    return shown.stdout, tree.stdout


def env_of(payload: dict[str, object]) -> dict[str, str]:
    return {
        item["name"]: base64.b64decode(item["value"]).decode()
        for item in payload["env_vars"]  # type: ignore[union-attr]
    }


async def test_the_cli_multipart_starts_a_workflow_on_the_label(rig: EngineRig) -> None:
    archive = tgz({".semaphore/semaphore.yml": SNAPSHOT_YAML, "src/app.py": "print(1)\n"})
    response = await create_snapshot(rig.api, rig.project_id, archive, label="my-change")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["wf_id"] == answer["workflow_id"]
    assert answer["ppl_id"] == answer["pipeline_id"]
    described = await rig.api.get(f"{API}/plumber-workflows/{answer['wf_id']}")
    assert described.json()["workflow"]["branch_name"] == "my-change"


async def test_the_pipeline_is_read_from_the_archive_and_its_job_clones_it(
    rig: EngineRig, tmp_path: Path
) -> None:
    archive = tgz(
        {".semaphore/semaphore.yml": SNAPSHOT_YAML, "run.sh": "echo from the archive\n"},
        symlinks={"link": "run.sh"},
    )
    answer = (await create_snapshot(rig.api, rig.project_id, archive, label="wip")).json()
    await rig.settle()
    jobs = await rig.jobs(answer["ppl_id"])
    assert list(jobs) == ["snapshot-job"]  # the archive's file, not the repository's
    taken = await rig.take()
    env = env_of(taken.payload)
    assert env["SEMAPHORE_GIT_BRANCH"] == "wip"
    assert env["SEMAPHORE_GIT_REF"] == "refs/heads/wip"
    url = urlsplit(env["SEMAPHORE_GIT_URL"])
    assert env["SEMAPHORE_SNAPSHOT_ID"]
    assert url.path == f"/api/v1/snapshots/{env['SEMAPHORE_SNAPSHOT_ID']}.git"
    auth = (unquote(url.username or ""), unquote(url.password or ""))
    client = taken.agent.client
    refs_url = f"{url.path}/info/refs?service=git-upload-pack"
    refused = await client.get(refs_url)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert (await client.get(refs_url, auth=("someone", "else"))).status_code == 401
    refs = await client.get(refs_url, auth=auth)
    assert refs.status_code == 200
    assert f"{env['SEMAPHORE_GIT_SHA']} refs/heads/wip".encode() in refs.content
    # the pack a clone asks for holds the archive's files
    want = (
        f"want {env['SEMAPHORE_GIT_SHA']} ofs-delta\n".encode(),
        b"done\n",
    )
    request = b"%04x" % (len(want[0]) + 4) + want[0] + b"0000" + b"%04x" % (len(want[1]) + 4)
    request += want[1]
    pack = await client.post(
        f"{url.path}/git-upload-pack",
        content=request,
        auth=auth,
        headers={"Content-Type": "application/x-git-upload-pack-request"},
    )
    assert pack.status_code == 200
    assert b"PACK" in pack.content
    run_sh, tree = read_pack(pack.content, env["SEMAPHORE_GIT_SHA"], tmp_path / "clone.git")
    assert run_sh == b"echo from the archive\n"
    assert "100755 blob" in tree
    assert "120000 blob" in tree
    assert "\tlink\n" in tree
    await taken.report()
    await rig.settle()
    # the job has ended: its credentials no longer open the snapshot
    assert (await client.get(refs_url, auth=auth)).status_code == 401


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        (b"not gzip at all", "is not a gzip-compressed tar archive"),
        (tgz({"../escape.txt": "x"}), "'..'"),
        (tgz({"/etc/passwd": "x"}), "absolute"),
        (tgz({"a.txt": "x"}, symlinks={"evil": "../../etc/passwd"}), "leaves the tree"),
        (tgz({}), "holds no files"),
    ],
    # ids of their own: a gzip header holds the time it was made, and workers must agree
    ids=["not-gzip", "dot-dot", "absolute", "symlink-out", "empty"],
)
async def test_a_bad_archive_is_a_400_naming_the_field_and_stores_nothing(
    rig: EngineRig, archive: bytes, reason: str
) -> None:
    response = await create_snapshot(rig.api, rig.project_id, archive)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("snapshot_archive:")
    assert reason in message
    listed = await rig.api.get(f"{API}/plumber-workflows", params={"project_id": rig.project_id})
    assert listed.json() == []
    snapshots_dir = Path(rig.app.state.engine.mirrors.root) / "snapshots"
    assert not snapshots_dir.exists() or not any(snapshots_dir.iterdir())


async def test_an_archive_over_the_snapshot_limit_is_a_413(
    app: FastAPI, rig: EngineRig, settings: Settings
) -> None:
    limit = settings.snapshot_max_bytes
    body, content_type = cli_multipart({"project_id": rig.project_id}, b"x" * (limit + 1))
    response = await rig.api.post(
        f"{API}/plumber-workflows", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 413
    assert str(limit) in response.json()["message"]


async def test_missing_fields_and_labels_that_are_no_branch_name_are_400s(rig: EngineRig) -> None:
    archive = tgz({".semaphore/semaphore.yml": SNAPSHOT_YAML})
    bad_label = await create_snapshot(rig.api, rig.project_id, archive, label="a..b")
    assert bad_label.status_code == 400
    assert bad_label.json()["message"].startswith("label:")
    body, content_type = cli_multipart({"label": "x"}, archive)
    no_project = await rig.api.post(
        f"{API}/plumber-workflows", content=body, headers={"Content-Type": content_type}
    )
    assert no_project.status_code == 400
    assert no_project.json()["message"] == "project_id: is required"


async def test_a_json_run_still_takes_a_git_reference(rig: EngineRig) -> None:
    answer = await rig.run()
    await rig.settle()
    assert list(await rig.jobs(answer["pipeline_id"])) == ["git-job"]
    missing = await rig.api.post(f"{API}/plumber-workflows", json={"project_id": rig.project_id})
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("reference:")
