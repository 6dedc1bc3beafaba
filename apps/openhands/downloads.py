"""Writing a streamed body to disk in constant memory, atomically, with its sha256 and size."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from apps.openhands.records import DownloadResult


def check_destination(dest: str | Path) -> Path:
    """Return `dest` as a Path, or raise before any byte is fetched if it cannot be written."""
    path = Path(dest)
    if path.is_dir():
        raise IsADirectoryError(f"The download destination {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"The folder {path.parent} for the download does not exist")
    return path


def part_path(dest: Path) -> Path:
    """Return the temporary file a download to `dest` is written to before the rename."""
    return dest.with_name(dest.name + ".part")


def write_atomically(chunks: Iterable[bytes], dest: Path) -> DownloadResult:
    """Stream `chunks` into a `.part` file next to `dest`, then rename it over `dest`.

    The rename happens only after every chunk arrived and was flushed to disk, so `dest` is
    either untouched or complete; on any failure the partial file is removed.
    """
    digest = hashlib.sha256()
    size = 0
    # A `.part` left by a crashed earlier run is simply overwritten.
    part = part_path(dest)
    try:
        with part.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    _fsync_directory(dest.parent)
    return DownloadResult(path=dest, size=size, sha256=digest.hexdigest())


def write_to_stream(chunks: Iterable[bytes], target: BinaryIO) -> DownloadResult:
    """Copy `chunks` into a caller's binary stream, counting bytes and hashing them."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        target.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return DownloadResult(path=None, size=size, sha256=digest.hexdigest())


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; some file systems cannot, which is harmless."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
