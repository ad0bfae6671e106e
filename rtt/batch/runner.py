"""Which files to translate, where their outputs go, and running them (several at once).

Inputs are files, folders (searched recursively for media files) and URLs of finished
files (http/https, a VOD HLS playlist; a live stream fails as that job's error). Outputs mirror
the input folders under `--out`: `talks/day1/a.mp4` given as the folder `talks`
writes `OUT/day1/a.<lang>.srt`. A file whose outputs all exist is skipped unless
`force`. A file that fails, whatever the exception (a decoder or model bug as much
as a bad file), is reported and the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.audio.urls import is_url, mask_url, url_stem
from pipeline.errors import ConfigError, RttError
from pipeline.languages import LANGUAGES
from pipeline.offline import UNDETERMINED, OfflineProcessor, ProgressSink, SubtitleLimits

from .writers import OutputPlan, write_outputs

__all__ = [
    "MEDIA_SUFFIXES",
    "BatchJob",
    "BatchOptions",
    "FileReport",
    "discover_inputs",
    "finished",
    "run_batch_jobs",
]

log = logging.getLogger("rtt.batch")

# What a folder search picks up; a file named on the command line is tried whatever its suffix.
MEDIA_SUFFIXES = frozenset(
    ".wav .flac .mp3 .ogg .oga .opus .m4a .aac .wma .aiff .aif .mp4 .m4v .mkv .webm .mov .avi .mpg .mpeg .ts".split()
)


@dataclass(frozen=True, slots=True)
class BatchOptions:
    out: Path
    targets: tuple[str, ...]
    source_lang: str | None  # None: detect per file
    formats: tuple[str, ...]
    bilingual: bool = False
    force: bool = False
    jobs: int = 1
    limits: SubtitleLimits = field(default_factory=SubtitleLimits)


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One input file (a path, or the URL of a finished file) and where its outputs go."""

    path: Path | str
    name: str  # shown in progress and the summary (relative to the folder it was found in)
    plan: OutputPlan


@dataclass(slots=True)
class FileReport:
    job: BatchJob
    status: str  # "ok", "no speech", "skipped" or "failed"
    duration: float = 0.0  # seconds of audio
    seconds: float = 0.0  # wall time spent on it
    outputs: list[Path] = field(default_factory=list)
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def discover_inputs(inputs: Sequence[Path | str], options: BatchOptions) -> list[BatchJob]:
    """Every input as a job, in order, without duplicates; raises ConfigError for a missing
    input or for two inputs that would write the same output names."""
    out = options.out.resolve()
    jobs: dict[Path | str, BatchJob] = {}
    for given in inputs:
        if is_url(given):
            plan = OutputPlan(out, url_stem(given), options.formats, options.bilingual)
            jobs.setdefault(given, BatchJob(given, mask_url(given), plan))
            continue
        given = Path(given)
        if given.is_dir():
            root = given.resolve()
            for path in sorted(
                p for p in root.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file()
            ):
                if out in path.parents:
                    continue  # never feed our own outputs folder back in
                rel = path.relative_to(root)
                jobs.setdefault(path, _job(path, str(rel), out / rel.parent, options))
        elif given.exists():
            path = given.resolve()
            jobs.setdefault(path, _job(path, given.name, out, options))
        else:
            raise ConfigError(f"no such file or folder: {given}")
    _check_collisions(list(jobs.values()))
    return list(jobs.values())


def _job(path: Path, name: str, folder: Path, options: BatchOptions) -> BatchJob:
    return BatchJob(path, name, OutputPlan(folder, path.stem, options.formats, options.bilingual))


def _check_collisions(jobs: list[BatchJob]) -> None:
    seen: dict[tuple[Path, str], BatchJob] = {}
    for job in jobs:
        key = (job.plan.folder, job.plan.stem)
        if key in seen:
            raise ConfigError(
                f"{_shown(seen[key])} and {_shown(job)} would write the same outputs ({job.plan.stem}.*); "
                "rename one or translate them in separate runs"
            )
        seen[key] = job


def _shown(job: BatchJob) -> str:
    return job.name if isinstance(job.path, str) else str(job.path)


def finished(job: BatchJob, options: BatchOptions) -> bool:
    """All planned outputs exist. With the source language detected per file, any
    language's source outputs count (the language is known only after transcribing)."""
    if options.source_lang is not None:
        return all(p.is_file() for p in job.plan.paths(options.source_lang, options.targets))
    candidates = [lang for lang in (*LANGUAGES, UNDETERMINED) if lang not in options.targets]
    return any(
        all(p.is_file() for p in job.plan.paths(lang, options.targets)) for lang in candidates
    )


# (job) -> a progress sink for that file; the display also learns when the file is over
SinkFactory = Callable[[BatchJob], ProgressSink]


async def run_batch_jobs(
    jobs: Sequence[BatchJob],
    processor: OfflineProcessor,
    options: BatchOptions,
    sink_for: SinkFactory | None = None,
    on_report: Callable[[FileReport], None] | None = None,
) -> list[FileReport]:
    """Run every job, at most `options.jobs` at once; reports come back in job order."""
    gate = asyncio.Semaphore(max(1, options.jobs))

    async def one(job: BatchJob) -> FileReport:
        async with gate:
            report = await _run_one(job, processor, options, sink_for(job) if sink_for else None)
        if on_report is not None:
            on_report(report)
        return report

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def _run_one(
    job: BatchJob, processor: OfflineProcessor, options: BatchOptions, sink
) -> FileReport:
    if not options.force and finished(job, options):
        return FileReport(job, "skipped")
    started = time.perf_counter()
    try:
        result = await processor.process(
            job.path,
            stream=job.name,
            language=options.source_lang,
            targets=options.targets,
            progress=sink,
        )
        outputs = await asyncio.to_thread(write_outputs, result, job.plan, options.limits)
    except (RttError, OSError) as exc:  # one bad file never stops the others
        return FileReport(job, "failed", seconds=time.perf_counter() - started, error=str(exc))
    except Exception as exc:  # nor does a bug met on one file: it is that file's failure
        log.debug("%s failed", job.path, exc_info=True)
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return FileReport(job, "failed", seconds=time.perf_counter() - started, error=error)
    status = "ok" if result.sentences else "no speech"
    return FileReport(job, status, result.duration, time.perf_counter() - started, outputs)
