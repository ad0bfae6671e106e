#!/usr/bin/env python3
"""Benchmark `rtt batch` (the offline path) against the live pipeline run with
--no-realtime on the same files, in the same run: real-time factor of each, and
quality of each on the sample corpus (WER of the transcript; BLEU and chrF of each
translation at document level, as in docs/metrics.md).

Each path runs as its command would: the batch path gives Whisper and the LLM
every core (they never run together with one file at a time), the live pipeline
splits the cores between them. RTF = wall time / audio duration, models loaded.

  .venv/bin/python scripts/bench_batch.py --json out/bench_batch.json
  .venv/bin/python scripts/bench_batch.py --asr-model whisper-tiny.en --mt-model qwen2.5-coder-0.5b --to de --json out/small.json
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
from pipeline.events import SourceCommit, TargetCommit  # noqa: E402
from pipeline.factory import build_pipeline, load_engines, split_threads  # noqa: E402
from pipeline.offline import OfflineConfig, build_processor  # noqa: E402
from rtt.corpus import load_corpus  # noqa: E402
from rtt.settings import add_pipeline_options, config_from_args  # noqa: E402


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--items",
        help="comma-separated corpus item ids (default: every item with references for the targets)",
    )
    parser.add_argument(
        "--beam-size",
        type=int,
        default=OfflineConfig().beam_size,
        help="batch path's Whisper beam size",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    add_pipeline_options(parser)
    args = parser.parse_args()
    args.to = args.to or "de,es"
    return args


def quality(reference: str, hypothesis: str, refs: dict[str, str], hyps: dict[str, str]) -> dict:
    import jiwer
    import sacrebleu
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    out = {"wer": round(jiwer.wer(norm(reference), norm(hypothesis) or "-"), 4)}
    for lang, hyp in hyps.items():
        out[f"bleu_{lang}"] = round(sacrebleu.corpus_bleu([hyp], [[refs[lang]]]).score, 2)
        out[f"chrf_{lang}"] = round(sacrebleu.corpus_chrf([hyp], [[refs[lang]]]).score, 2)
    return out


async def run_batch_path(config: PipelineConfig, offline: OfflineConfig, items) -> dict:
    registry = EngineRegistry()
    try:
        processor = await asyncio.to_thread(build_processor, config, registry, offline)
        runs = {}
        for item in items:
            started = time.perf_counter()
            result = await processor.process(
                item.audio, stream=item.id, language=config.asr.language, targets=config.mt.targets
            )
            wall = time.perf_counter() - started
            source = " ".join(s.text for s in result.sentences)
            targets = {
                lang: " ".join(t for t in texts if t) for lang, texts in result.translations.items()
            }
            runs[item.id] = {
                "wall": wall,
                "source": source,
                "targets": targets,
                "steps": dict(result.timings),
            }
            print(
                f"batch {item.id}: {wall:.1f} s for {item.duration:.1f} s of audio {dict(result.timings)}",
                file=sys.stderr,
            )
        return runs
    finally:
        registry.close()


async def run_live_path(config: PipelineConfig, items) -> dict:
    registry = EngineRegistry()
    try:
        await asyncio.to_thread(load_engines, registry, config)
        runs = {}
        for item in items:
            source = open_source(str(item.audio), stream=item.id, config=config.source)
            pipeline = build_pipeline(config, source, registry)
            started = time.perf_counter()
            events = [e async for e in pipeline.run()]
            wall = time.perf_counter() - started
            commits = [e for e in events if isinstance(e, TargetCommit)]
            targets = {
                lang: " ".join(
                    e.text
                    for e in sorted(
                        (c for c in commits if c.lang == lang), key=lambda c: c.sentence
                    )
                    if e.text
                )
                for lang in config.mt.targets
            }
            runs[item.id] = {
                "wall": wall,
                "source": " ".join(e.text for e in events if isinstance(e, SourceCommit)),
                "targets": targets,
            }
            print(
                f"live {item.id}: {wall:.1f} s for {item.duration:.1f} s of audio", file=sys.stderr
            )
        return runs
    finally:
        registry.close()


def summarise(items, runs: dict) -> dict:
    per_item = {}
    for item in items:
        run = runs[item.id]
        refs = {lang: item.translations[lang] for lang in run["targets"]}
        per_item[item.id] = {
            "audio_seconds": item.duration,
            "wall_seconds": round(run["wall"], 2),
            "rtf": round(run["wall"] / item.duration, 3),
            **({"step_seconds": run["steps"]} if "steps" in run else {}),
            **quality(item.transcript, run["source"], refs, run["targets"]),
            "transcript": run["source"],
            "translations": run["targets"],
        }
    audio = sum(item.duration for item in items)
    wall = sum(runs[item.id]["wall"] for item in items)
    langs = list(next(iter(runs.values()))["targets"])
    whole = quality(
        " ".join(i.transcript for i in items),
        " ".join(runs[i.id]["source"] for i in items),
        {lang: " ".join(i.translations[lang] for i in items) for lang in langs},
        {lang: " ".join(runs[i.id]["targets"][lang] for i in items) for lang in langs},
    )
    return {
        "total": {
            "audio_seconds": round(audio, 2),
            "wall_seconds": round(wall, 2),
            "rtf": round(wall / audio, 3),
            **whole,
        },
        "items": per_item,
    }


def main() -> int:
    args = parse()
    items = load_corpus()
    if args.items:
        wanted = set(args.items.split(","))
        items = [i for i in items if i.id in wanted]
    targets = args.to.split(",")
    # only items with references for every target, in the source language when one is given
    items = [
        i
        for i in items
        if all(t in i.translations for t in targets)
        and (args.source_lang in (None, "auto", i.lang))
    ]
    live = config_from_args(args, realtime=False)
    cores = os.cpu_count() or 2
    batch = dataclasses.replace(
        live,
        compute=dataclasses.replace(
            live.compute, asr_threads=args.asr_threads or cores, mt_threads=args.mt_threads or cores
        ),
    )
    offline = dataclasses.replace(OfflineConfig(), beam_size=args.beam_size)
    batch_runs = asyncio.run(run_batch_path(batch, offline, items))
    live_runs = asyncio.run(run_live_path(live, items))
    device, compute_type = resolve_device(live.compute)
    threads = split_threads(live.compute)
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": cores,
            "device": device,
            "compute_type": compute_type,
            "load_average": list(os.getloadavg()),
        },
        "settings": {
            "asr_model": live.asr.model,
            "mt_model": live.mt.model,
            "live_fast_model": live.mt.fast_model,
            "targets": list(live.mt.targets),
            "source_language": live.asr.language or "auto",
            "batch": {
                "asr_threads": batch.compute.asr_threads,
                "mt_threads": batch.compute.mt_threads,
                "beam_size": offline.beam_size,
                "batch_size": offline.batch_size,
            },
            "live": {
                "asr_threads": threads.asr_threads,
                "mt_threads": threads.mt_threads,
                "step": live.asr.step,
                "vad": live.vad.backend,
                "clock": "simulated (--no-realtime)",
            },
        },
        "batch": summarise(items, batch_runs),
        "live_no_realtime": summarise(items, live_runs),
    }
    result["speedup_batch_over_live"] = round(
        result["live_no_realtime"]["total"]["wall_seconds"]
        / result["batch"]["total"]["wall_seconds"],
        2,
    )
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
