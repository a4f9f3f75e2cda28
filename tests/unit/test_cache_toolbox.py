"""blockpost's `cache` command without a server: its archives (system tar and python's
tarfile, zstd and gzip, absolute paths), Semaphore's key-less lookup and keys, key matching,
and its messages for what it decides alone."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from blockpost.agent.toolbox import cache_archive
from blockpost.agent.toolbox.cache import duration, human_size, matching
from blockpost.agent.toolbox.cache_lookup import lookup, restore_keys

BIN = Path(__file__).parents[2] / "src/blockpost/agent/toolbox/bin"


def tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def make_tree(root: Path) -> dict[str, str]:
    (root / "deps/sub").mkdir(parents=True)
    (root / "deps/a.txt").write_text("a\n")
    (root / "deps/sub/b.txt").write_text("b\n")
    (root / "deps/sub/link").symlink_to("b.txt")
    return tree(root / "deps")


@pytest.fixture
def no_tar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH with zstd and gzip but no tar: the command falls back to python's tarfile."""
    bin_dir = tmp_path / "bin-without-tar"
    bin_dir.mkdir()
    for tool in ("zstd", "gzip"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))


def round_trip(tmp_path: Path, compression: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    files = make_tree(work)
    archive = tmp_path / "archive"
    os.chdir(work)
    cache_archive.compress("deps", str(archive), compression)
    shutil.rmtree(work / "deps")
    with archive.open("rb") as stream:
        assert cache_archive.unpack(stream, compression) == "deps/"
    assert tree(work / "deps") == files
    assert os.readlink(work / "deps/sub/link") == "b.txt"


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_an_archive_round_trips_with_the_system_tar(
    tmp_path: Path, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not shutil.which(compression):
        pytest.skip(f"no {compression} on this machine")
    monkeypatch.chdir(tmp_path)
    round_trip(tmp_path, compression)


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_an_archive_round_trips_with_pythons_tarfile_when_there_is_no_tar(
    tmp_path: Path, compression: str, no_tar: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if compression == "zstd" and not shutil.which("zstd"):
        pytest.skip("no zstd on this machine")
    monkeypatch.chdir(tmp_path)
    assert shutil.which("tar") is None
    round_trip(tmp_path, compression)


def test_archives_of_tar_and_of_tarfile_are_the_same_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    files = make_tree(work)
    monkeypatch.chdir(work)
    cache_archive._compress_with_tarfile("deps", str(tmp_path / "a.tgz"), "gzip")
    shutil.rmtree(work / "deps")
    with (tmp_path / "a.tgz").open("rb") as stream:
        cache_archive._unpack_with_tar(stream, "gzip")
    assert tree(work / "deps") == files
    cache_archive._compress_with_tar("deps", str(tmp_path / "b.tgz"), "gzip")
    shutil.rmtree(work / "deps")
    with (tmp_path / "b.tgz").open("rb") as stream:
        cache_archive._unpack_with_tarfile(stream, "gzip")
    assert tree(work / "deps") == files


@pytest.mark.parametrize("unpacker", ["_unpack_with_tar", "_unpack_with_tarfile"])
@pytest.mark.parametrize("packer", ["_compress_with_tar", "_compress_with_tarfile"])
def test_an_absolute_path_is_restored_where_it_was_whatever_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packer: str, unpacker: str
) -> None:
    files = make_tree(tmp_path / "home")
    source = str(tmp_path / "home/deps")
    getattr(cache_archive, packer)(source, str(tmp_path / "abs.tgz"), "gzip")
    shutil.rmtree(source)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with (tmp_path / "abs.tgz").open("rb") as stream:
        restored = getattr(cache_archive, unpacker)(stream, "gzip")
    assert restored == source + "/"
    assert tree(Path(source)) == files
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_damaged_archive_is_an_error_not_a_partial_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cache_archive.ArchiveError):
        cache_archive._unpack_with_tar(io.BytesIO(b"not gzip at all"), "gzip")
    with pytest.raises(cache_archive.ArchiveError):
        cache_archive._unpack_with_tarfile(io.BytesIO(b"not gzip at all"), "gzip")


def test_the_key_less_lookup_finds_semaphores_lock_files_with_its_keys(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text("{}\n")
    (tmp_path / "yarn.lock").write_text("# yarn\n")
    (tmp_path / "requirements.txt").write_text("requests\n")
    (tmp_path / "go.sum").write_text("x\n")
    found = lookup(str(tmp_path), "feature/x", restore=False, home="/home/job")
    assert [item.lock_file for item in found] == [
        "package-lock.json",
        "yarn.lock",
        "requirements.txt",
        "go.sum",
    ]
    npm, yarn, pip, go = found
    # md5 of the lock file, as `checksum package-lock.json` gives it on Semaphore
    assert npm.entries[0].keys == ["node-modules-feature/x-8a80554c91d9fca8acb82f023de02f11"]
    assert npm.entries[0].path == "node_modules"
    assert [(entry.path, entry.keys[0].split("-feature")[0]) for entry in yarn.entries] == [
        ("/home/job/.cache/yarn", "yarn-cache"),
        ("node_modules", "node-modules"),
    ]
    assert pip.entries[0].path == ".pip_cache"
    assert go.entries[0].path == "/home/job/go/pkg/mod"
    restoring = lookup(str(tmp_path), "", restore=True, home="/home/job")[2]
    assert restoring.entries[0].keys == [
        "requirements-master-"
        + subprocess.run(
            ["md5sum", str(tmp_path / "requirements.txt")], capture_output=True, text=True
        ).stdout.split()[0],
        "requirements-master",
        "requirements-main",
    ]
    assert lookup(str(tmp_path / "nothing"), "main", restore=True) == []


def test_restore_keys_fall_back_to_the_branch_then_master_and_main() -> None:
    assert restore_keys("gems", "dev", "abc") == [
        "gems-dev-abc",
        "gems-dev",
        "gems-master",
        "gems-main",
    ]
    assert restore_keys("gems", "main", "abc") == ["gems-main-abc", "gems-main", "gems-master"]


def test_a_key_matches_the_newest_key_it_is_found_in_as_a_regular_expression() -> None:
    newest_first = ["gems-master-new", "gems-master-old", "node-modules-master"]
    assert matching(newest_first, "gems-master") == "gems-master-new"
    assert matching(newest_first, "master-o") == "gems-master-old"
    assert matching(newest_first, "^node.*master$") == "node-modules-master"
    assert matching(newest_first, "gems-main") == ""
    assert matching(newest_first, "gems-[") == ""  # no regular expression: no match


def test_sizes_and_durations_read_as_the_cache_clis() -> None:
    assert human_size(512) == "512.0"
    assert human_size(1536) == "1.5K"
    assert human_size(9 * 1024**3) == "9.0G"
    assert duration(1.5) == "1.5s"
    assert duration(0.012345) == "12.345ms"
    assert duration(0.0003) == "300µs"


def cache(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "cache"), *args],
        env=env if env is not None else {"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )


def test_without_the_jobs_token_a_command_reports_an_error_and_exits_as_semaphore_does() -> None:
    plain = cache("list")
    assert (plain.returncode, plain.stdout) == (0, "error: no SEMAPHORE_ARTIFACT_TOKEN set\n")
    failing = cache("list", env={"PATH": os.environ["PATH"], "CACHE_FAIL_ON_ERROR": "true"})
    assert failing.returncode == 1


def test_usage_errors_are_reported_before_any_request() -> None:
    unknown = cache("stash")
    assert unknown.returncode == 1
    assert 'unknown command "stash" for "cache"' in unknown.stderr
    assert cache().stdout.startswith("Utility for managing dependency caches")
    bad_flag = cache("list", "--colour")
    assert bad_flag.returncode == 1
    assert "unknown flag: --colour" in bad_flag.stderr
