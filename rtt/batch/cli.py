"""`rtt batch`: translate recorded files into subtitles, transcripts and event logs."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from pipeline.audio.urls import mask_url
from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError
from pipeline.offline import OfflineConfig, build_processor

from ..settings import add_pipeline_options, config_from_args
from .progress import BatchProgress, print_summary
from .runner import BatchJob, BatchOptions, FileReport, discover_inputs, run_batch_jobs
from .writers import FORMATS

__all__ = ["add_batch_parser", "run_batch"]

_OFFLINE = OfflineConfig()

EPILOG = f"""\
outputs (in --out, mirroring the folders given as input):
  <stem>.<lang>.srt / .vtt   subtitles for the source language and each target
  <stem>.<lang>.txt          transcript / translation, one sentence per line
  <stem>.jsonl               the events (speech_start/end, source_commit, target_commit, end)
  <stem>.<src>-<tgt>.srt     with --bilingual: source and translation in each cue

examples:
  rtt batch talk.mp4 --to de --out subs/
  rtt batch recordings/ --to de,es --formats srt,txt --bilingual --out subs/ --jobs 2
  rtt batch https://example.org/media/keynote.mp4 --to de --out subs/

Files whose outputs all exist are skipped (use --force to redo them). A file that
cannot be read is reported and the others still run.
exit status: 0 when every file succeeded (or was skipped), 1 when any file failed,
2 on a usage or setup error. Subtitles: at most {_OFFLINE.subtitles.max_lines} lines of \
{_OFFLINE.subtitles.max_line} characters, cues of {_OFFLINE.subtitles.min_duration:g}-\
{_OFFLINE.subtitles.max_duration:g} s."""


def add_batch_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="translate recorded audio/video files into subtitles and transcripts (offline, whole-file)",
        description="Translate recorded files with the offline path: Silero VAD over the whole file, batched "
        "Whisper with word timestamps, sentence segmentation (pysbd) and batched LLM translation. "
        "Writes subtitles, transcripts and the event log per file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs",
        metavar="INPUT",
        nargs="+",
        help="audio or video files, folders (searched recursively), or URLs of finished files "
        "(http, https, a VOD HLS playlist; outputs are named after the URL's last path segment)",
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="output folder (created if missing)"
    )
    p.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)",
    )
    p.add_argument(
        "--bilingual",
        action="store_true",
        help="also write <stem>.<src>-<tgt>.srt with source and translation in each cue",
    )
    p.add_argument("--force", action="store_true", help="redo files whose outputs already exist")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="files in flight at once: overlaps reading, speech recognition and translation of different files; models load once (default: 1)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress display and no summary table; failures are still reported on stderr",
    )
    p.add_argument(
        "--beam-size",
        type=int,
        default=_OFFLINE.beam_size,
        help=f"Whisper beam size (default: {_OFFLINE.beam_size})",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=_OFFLINE.batch_size,
        help=f"30-second windows decoded per Whisper batch (default: {_OFFLINE.batch_size})",
    )
    add_pipeline_options(p)
    p.set_defaults(func=run_batch)


def parse_formats(spec: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower() for f in spec.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(
            f"unknown output format(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(FORMATS)}"
        )
    return formats


def batch_settings(args: argparse.Namespace) -> tuple[PipelineConfig, OfflineConfig, BatchOptions]:
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    config = config_from_args(args, realtime=False)
    # One file at a time never runs Whisper and the LLM together: give each every core.
    cores = os.cpu_count() or 2
    whole = cores if args.jobs == 1 else 0
    compute = dataclasses.replace(
        config.compute,
        asr_threads=args.asr_threads or config.compute.asr_threads or whole,
        mt_threads=args.mt_threads or config.compute.mt_threads or whole,
    )
    config = dataclasses.replace(config, compute=compute)
    offline = dataclasses.replace(_OFFLINE, beam_size=args.beam_size, batch_size=args.batch_size)
    offline.check()
    options = BatchOptions(
        out=args.out,
        targets=config.mt.targets,
        source_lang=config.asr.language,
        formats=parse_formats(args.formats),
        bilingual=args.bilingual,
        force=args.force,
        jobs=args.jobs,
        limits=offline.subtitles,
    )
    return config, offline, options


def run_batch(args: argparse.Namespace, registry: EngineRegistry | None = None) -> int:
    """Exit status 0 (all done or skipped), 1 (a file failed); `registry`: engines to reuse
    (the caller keeps ownership), else models are loaded here and freed at the end."""
    config, offline, options = batch_settings(args)
    jobs = discover_inputs(args.inputs, options)
    if not jobs:
        raise ConfigError(
            f"no audio or video files found in {', '.join(map(mask_url, args.inputs))}"
        )
    return asyncio.run(_batch(jobs, config, offline, options, quiet=args.quiet, registry=registry))


async def _batch(
    jobs: list[BatchJob],
    config: PipelineConfig,
    offline: OfflineConfig,
    options: BatchOptions,
    *,
    quiet: bool,
    registry: EngineRegistry | None,
) -> int:
    console = Console(file=sys.stderr)
    owned = registry is None
    registry = registry or EngineRegistry()
    try:
        if not quiet:
            console.print(f"[dim]loading models ({config.asr.model}, {config.mt.model})…[/]")
        processor = await asyncio.to_thread(build_processor, config, registry, offline)
        started = time.perf_counter()
        with BatchProgress(jobs, console, enabled=not quiet and console.is_terminal) as display:

            def on_report(report: FileReport) -> None:
                display.finished(report)
                if report.failed and not display.enabled:
                    console.print(
                        f"[red]failed:[/] {escape(report.job.name)}: {escape(report.error)}",
                        highlight=False,
                    )

            reports = await run_batch_jobs(jobs, processor, options, display.sink, on_report)
        if not quiet:
            print_summary(reports, console, time.perf_counter() - started)
        return 1 if any(r.failed for r in reports) else 0
    finally:
        if owned:
            await asyncio.to_thread(registry.close)
