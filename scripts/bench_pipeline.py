#!/usr/bin/env python3
"""Benchmark the live pipeline on a sample talk: per-stage real-time factor,
time-to-final p50/p90 and the lag behind the audio.

By default the talk is fed at real-time pace (computation-aware: what a
listener sees); --no-realtime uses the simulated clock (computation-unaware).
Runs unchanged on CUDA when a GPU is present (--device auto). Like `rtt translate`,
it fits the models to the machine (--fit auto, cached calibration) and records the
choice in the JSON's `fit` object; --fit off measures the configured models exactly.

  .venv/bin/python scripts/bench_pipeline.py --json out/bench_pipeline.json
  .venv/bin/python scripts/bench_pipeline.py --asr-model whisper-tiny.en --mt-model qwen2.5-coder-0.5b --json out/small.json
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.audio import open_source  # noqa: E402
from pipeline.compute import resolve_device  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.engine import EngineRegistry  # noqa: E402
from pipeline.events import Error, SourceCommit, TargetCommit  # noqa: E402
from pipeline.factory import build_pipeline, load_engines, split_threads  # noqa: E402
from pipeline.observers import LatencyObserver  # noqa: E402
from rtt.corpus import corpus_item  # noqa: E402
from rtt.settings import add_pipeline_options, config_from_args, fit_machine  # noqa: E402


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--item", default="talk-opening-en", help="corpus item id (audio_samples/manifest.json)"
    )
    parser.add_argument(
        "--no-realtime", action="store_true", help="simulated clock instead of real-time pace"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    add_pipeline_options(parser)
    return parser.parse_args()


async def bench(config: PipelineConfig, audio: Path) -> dict:
    registry = EngineRegistry()
    try:
        started = time.perf_counter()
        await asyncio.to_thread(load_engines, registry, config)
        load_seconds = time.perf_counter() - started
        observer = LatencyObserver()
        source = open_source(str(audio), stream=config.stream, config=config.source)
        pipeline = build_pipeline(config, source, registry, observers=[observer])
        started = time.perf_counter()
        events = [e async for e in pipeline.run()]
        wall = time.perf_counter() - started
    finally:
        registry.close()
    errors = [e.message for e in events if isinstance(e, Error)]
    return {
        "events": events,
        "observer": observer,
        "busy": dict(pipeline.stats().busy),
        "translator": pipeline.stats().translator,
        "wall": wall,
        "load": load_seconds,
        "errors": errors,
    }


def report(config: PipelineConfig, item, run: dict) -> dict:
    duration = item.duration
    compute = split_threads(config.compute)
    device, compute_type = resolve_device(compute)
    events = run["events"]
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "device": device,
            "compute_type": compute_type,
        },
        "settings": {
            "item": item.id,
            "audio_seconds": duration,
            "realtime": config.source.realtime,
            "asr_model": config.asr.model,
            "mt_model": config.mt.model,
            "fast_model": config.mt.fast_model,
            "targets": list(config.mt.targets),
            "asr_threads": compute.asr_threads,
            "mt_threads": compute.mt_threads,
            "asr_step": config.asr.step,
            "vad": config.vad.backend,
            "mt_budget": config.mt.budget,
            "final_deadline": config.mt.final_deadline,
        },
        "model_load_seconds": round(run["load"], 2),
        "wall_seconds": round(run["wall"], 2),
        "rtf": {name: round(seconds / duration, 3) for name, seconds in run["busy"].items()}
        | {"end_to_end": round(run["wall"] / duration, 3)},
        **run["observer"].summary(),
        "max_lag": run["observer"].summary()["target_commit_lag"]["max"],
        "source_commits": sum(isinstance(e, SourceCommit) for e in events),
        "target_commits": sum(isinstance(e, TargetCommit) for e in events),
        "errors": run["errors"],
        # the translator's own report: partials skipped, the core budget's deferrals and costs
        "translator": dataclasses.asdict(run["translator"]) if run["translator"] else None,
    }


def main() -> int:
    args = parse()
    config = config_from_args(args, realtime=not args.no_realtime)
    item = corpus_item(args.item)
    # --fit (default auto, like rtt translate): the models this machine keeps in real time
    config, choice = fit_machine(config, lambda line: print(line, file=sys.stderr, flush=True))
    result = report(config, item, asyncio.run(bench(config, item.audio)))
    result["fit"] = choice.to_json()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
