"""Cache archives: a tar of one path, compressed with zstd when the job has it, else gzip.

As Semaphore's cache CLI does, the archive names the path as it was given (an absolute path
stays absolute) and a restore unpacks it where that names, relative to the current
directory. The system tar does the work when there is one (fast on many small files);
python's tarfile otherwise. Bytes stream through pipes: nothing holds an archive whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tarfile
import threading
from typing import IO, BinaryIO

CHUNK = 1 << 20
ZSTD_LEVEL = "-3"  # zstd's default: as fast as gzip -1, smaller than gzip -6


class ArchiveError(Exception):
    pass


def compression_here() -> str:
    return "zstd" if shutil.which("zstd") else "gzip"


def compress(source: str, destination: str, compression: str) -> None:
    """Writes the archive of `source` (a file or directory) to the file `destination`."""
    if shutil.which("tar"):
        _compress_with_tar(source, destination, compression)
    else:
        _compress_with_tarfile(source, destination, compression)


def _run(commands: list[list[str]], source: IO[bytes] | None, sink: IO[bytes]) -> None:
    """Runs a pipeline of commands from `source` (None: no input) into `sink`."""
    processes: list[subprocess.Popen[bytes]] = []
    upstream: IO[bytes] | None = source
    for index, command in enumerate(commands):
        last = index == len(commands) - 1
        process = subprocess.Popen(
            command,
            stdin=upstream if upstream is not None else subprocess.DEVNULL,
            stdout=sink if last else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if upstream is not None and upstream is not source:
            upstream.close()  # the next process holds it now
        processes.append(process)
        upstream = process.stdout
    failures = []
    for process, command in zip(processes, commands):
        _, errors = process.communicate()
        if process.returncode:
            failures.append(f"{command[0]}: {errors.decode(errors='replace').strip()}")
    if failures:
        raise ArchiveError("; ".join(failures))


def _tar_create(source: str) -> list[str]:
    # -P keeps an absolute path absolute, as Semaphore's `tar czPf` does
    return ["tar", "-cPf", "-", source] if os.path.isabs(source) else ["tar", "-cf", "-", source]


def _compress_with_tar(source: str, destination: str, compression: str) -> None:
    with open(destination, "wb") as sink:
        if compression == "zstd":
            _run([_tar_create(source), ["zstd", "-q", ZSTD_LEVEL, "-T0", "-c"]], None, sink)
        else:
            _run([_tar_create(source), ["gzip", "-c"]], None, sink)


def _keep_absolute(source: str):  # type: ignore[no-untyped-def]
    """tarfile drops a leading '/'; put it back, so the archive is what tar -P makes."""

    def named(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if os.path.isabs(source) and not info.name.startswith("/"):
            info.name = "/" + info.name
        return info

    return named


def _compress_with_tarfile(source: str, destination: str, compression: str) -> None:
    if compression == "gzip":
        with tarfile.open(destination, "w:gz") as archive:
            archive.add(source, filter=_keep_absolute(source))
        return
    with open(destination, "wb") as sink:
        zstd = subprocess.Popen(
            ["zstd", "-q", ZSTD_LEVEL, "-T0", "-c"], stdin=subprocess.PIPE, stdout=sink
        )
        assert zstd.stdin is not None
        with tarfile.open(fileobj=zstd.stdin, mode="w|") as archive:
            archive.add(source, filter=_keep_absolute(source))
        zstd.stdin.close()
        if zstd.wait():
            raise ArchiveError("zstd failed to compress the archive")


def unpack(stream: BinaryIO, compression: str) -> str:
    """Unpacks the archive read from `stream` where its paths say; the first path in it
    (what Semaphore's CLI reports as restored: `deps/` for a directory)."""
    if compression == "zstd" and not shutil.which("zstd"):
        raise ArchiveError(
            "this key was stored with zstd, which is not on this job's PATH; install zstd"
        )
    if shutil.which("tar"):
        return _unpack_with_tar(stream, compression)
    return _unpack_with_tarfile(stream, compression)


def _feed(stream: BinaryIO, sink: IO[bytes], failed: list[BaseException]) -> None:
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            sink.write(chunk)
    except BrokenPipeError:
        pass  # the unpacker stopped; its own error says why
    except OSError as exc:
        failed.append(exc)
    finally:
        with contextlib.suppress(BrokenPipeError):
            sink.close()


def _unpack_with_tar(stream: BinaryIO, compression: str) -> str:
    decompress = ["zstd", "-d", "-q", "-c"] if compression == "zstd" else ["gzip", "-d", "-c"]
    inflate = subprocess.Popen(
        decompress, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # -v lists each path as it is unpacked: the first one is the restored path
    tar = subprocess.Popen(
        ["tar", "-xvPf", "-"],
        stdin=inflate.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert inflate.stdin is not None
    assert inflate.stdout is not None
    assert tar.stdout is not None
    inflate.stdout.close()
    failed: list[BaseException] = []
    feeder = threading.Thread(target=_feed, args=(stream, inflate.stdin, failed), daemon=True)
    feeder.start()
    first = tar.stdout.readline().decode(errors="replace").rstrip("\n")
    errors = threading.Thread(target=tar.stdout.read, daemon=True)  # drain the listing
    errors.start()
    tar_errors = tar.stderr.read() if tar.stderr else b""
    tar.wait()
    errors.join()
    feeder.join()
    inflate_errors = inflate.stderr.read() if inflate.stderr else b""
    inflate.wait()
    if failed:
        raise ArchiveError(f"download failed: {failed[0]}")
    if inflate.returncode or tar.returncode:
        text = (inflate_errors + tar_errors).decode(errors="replace").strip()
        raise ArchiveError(f"error executing decompression command: {text}")
    return first


def _unpack_with_tarfile(stream: BinaryIO, compression: str) -> str:
    inflate = None
    source: IO[bytes] = stream
    mode = "r|gz"
    if compression == "zstd":
        inflate = subprocess.Popen(
            ["zstd", "-d", "-q", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert inflate.stdin is not None
        assert inflate.stdout is not None
        failed: list[BaseException] = []
        threading.Thread(target=_feed, args=(stream, inflate.stdin, failed), daemon=True).start()
        source = inflate.stdout
        mode = "r|"
    first = ""
    # The archive is one this project's jobs stored, trusted as Semaphore's `tar -P` trusts
    # it: absolute paths and links go where they say.
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    try:
        with tarfile.open(fileobj=source, mode=mode) as archive:
            for member in archive:
                # as the archive names it (a directory with its '/', as tar writes it)
                first = first or member.name + ("/" if member.isdir() else "")
                archive.extract(member, path=".", **trusted)  # type: ignore[arg-type]
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveError(f"error unpacking the archive: {exc}") from None
    finally:
        if inflate is not None:
            inflate.wait()
    return first
