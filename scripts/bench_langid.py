#!/usr/bin/env python3
"""Language identification on the corpus: what `--from auto` decides, how sure, how soon.

Per corpus item, streaming (VAD + ASR stages of the live pipeline, no translation)
and, with --batch, the whole-file path of `rtt batch`:
- the language of the first source commit and its probability,
- time to decide: first source event carrying a language (not "und"), after speech start,
- first-commit delay: the first source commit after speech start (the manifest's first
  utterance start),
- the share of commits in the item's language.

Computation-unaware by default (simulated clock: compute is free, repeatable);
`--clock real` runs at real-time pace (what a listener sees on this machine; noisy on a
shared one). `--seconds 25` streams only the first 25 s of each item (the decision and
the first commits happen there; the rest of a talk only tests for false switches).

The script runs against any checkout: `PYTHONPATH=/path/to/old/checkout python
scripts/bench_langid.py --label before` measures the code before language ID
(there, auto detects on the first streaming pass).

    nice python scripts/bench_langid.py --source auto --source auto:en,de,es,fr --batch
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np

from pipeline.asr.stage import ASRStage
from pipeline.clock import RealClock, SimulatedClock
from pipeline.config import ASRConfig, ComputeConfig, PipelineConfig, SourceConfig
from pipeline.events import AudioChunk, SourceCommit, SourcePartial
from pipeline.factory import asr_engine
from pipeline.mt.engine import EngineRegistry
from pipeline.runner import Pipeline
from pipeline.vad.stage import VADStage
from rtt.corpus import load_corpus

RATE = 16000


class ArraySource:
    """Audio from memory, in 0.1 s chunks paced by the clock."""

    def __init__(self, audio: np.ndarray, stream: str) -> None:
        self.audio, self.stream = audio, stream

    async def chunks(self, clock):
        n = RATE // 10
        for i in range(0, len(self.audio), n):
            samples = self.audio[i : i + n]
            await clock.sleep_until((i + len(samples)) / RATE)
            yield AudioChunk(stream=self.stream, start=i / RATE, samples=samples)

    async def close(self) -> None:
        pass


def asr_config(model: str, source: str) -> ASRConfig:
    if source == "auto":
        return ASRConfig(model=model, language=None)
    if source.startswith("auto:"):
        if "candidates" not in {f.name for f in dataclasses.fields(ASRConfig)}:
            raise SystemExit(f"this checkout has no candidates: cannot run {source}")
        return ASRConfig(model=model, language=source)
    return ASRConfig(model=model, language=source)


async def stream_item(config: PipelineConfig, registry, audio: np.ndarray, realtime: bool):
    clock = RealClock() if realtime else SimulatedClock()
    stages = [
        VADStage(config.vad, stream=config.stream),
        ASRStage(asr_engine(registry, config), config.asr),
    ]
    pipeline = Pipeline(
        ArraySource(audio, config.stream), stages, clock=clock, stream=config.stream
    )
    started = time.perf_counter()
    events = [e async for e in pipeline.run()]
    return events, stages[1], time.perf_counter() - started


def switches(item, events) -> dict:
    """An item that switches language (talk-question-en-de): per part, when its language was
    followed and its commits' share in it, and WER in each part's own language."""
    if len(getattr(item, "languages", ())) < 2:
        return {}
    from rtt.eval.langid import language_parts
    from rtt.eval.scoring import source_parts

    wer = {lang: round(e / n, 3) for lang, (e, n) in source_parts(item, events).items() if n}
    return {"parts": language_parts(item, events), "wer_parts": wer}


def summarise(item, events, stage, wall: float) -> dict:
    speech = item.utterances[0].start
    commits = [e for e in events if isinstance(e, SourceCommit)]
    decided = [
        e for e in events if isinstance(e, (SourcePartial, SourceCommit)) and e.lang != "und"
    ]
    first = commits[0] if commits else None
    return {
        "item": item.id,
        "lang": item.lang,
        "duration": item.duration,
        "detected": first.lang if first else None,
        "probability": getattr(first, "language_probability", None) if first else None,
        "decide_s": round(decided[0].emitted - speech, 2) if decided else None,
        "first_commit_s": round(first.emitted - speech, 2) if first else None,
        "commits_in_lang": round(sum(c.lang == item.lang for c in commits) / len(commits), 3)
        if commits
        else None,
        "first_text": first.text[:60] if first else None,
        "detections": getattr(stage, "detections", None),
        "passes": stage.passes,
        "wall_s": round(wall, 2),
        **switches(item, events),
    }


def batch_item(registry, config: PipelineConfig, item, audio: np.ndarray, source: str) -> dict:
    from pipeline.offline.config import OfflineConfig
    from pipeline.offline.segment import asr_windows, speech_segments
    from pipeline.offline.transcribe import BatchTranscriber

    offline = OfflineConfig()
    whisper = asr_engine(registry, config).backend
    segments = speech_segments(audio, offline)
    started = time.perf_counter()
    candidates = config.asr.candidates if source.startswith("auto") else ()
    transcriber = BatchTranscriber(whisper, offline, candidates)
    language = None if source.startswith("auto") else source
    transcript = transcriber.transcribe(audio, asr_windows(segments, offline), language)
    return {
        "item": item.id,
        "lang": item.lang,
        "detected": transcript.language,
        "probability": getattr(transcript, "language_probability", None),
        "wall_s": round(time.perf_counter() - started, 2),
    }


def table(rows: list[dict], keys: list[str]) -> str:
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        out.append(
            "| " + " | ".join("" if row.get(k) is None else str(row[k]) for k in keys) + " |"
        )
    return "\n".join(out)


def merged(before: dict, after: dict) -> str:
    """One markdown table: before's auto run beside each of after's runs."""
    old = {r["item"]: r for r in next(iter(before["runs"].values()))["streaming"]}
    runs = list(after["runs"].items())
    head = ["item", "s", "lang", "before", "first commit"]
    for source, _ in runs:
        head += [source, "p", "decide", "first commit"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cell = lambda v: "" if v is None else str(v)  # noqa: E731
    for row in runs[0][1]["streaming"]:
        b = old.get(row["item"], {})
        line = [row["item"], f"{row['duration']:.0f}", row["lang"]]
        line += [cell(b.get("detected")), cell(b.get("first_commit_s"))]
        for _, run in runs:
            r = next(x for x in run["streaming"] if x["item"] == row["item"])
            mark = "" if r["detected"] == r["lang"] else " ✗"
            line += [cell(r["detected"]) + mark, cell(r["probability"]), cell(r["decide_s"])]
            line += [cell(r["first_commit_s"])]
        out.append("| " + " | ".join(line) + " |")
    for source, run in runs:
        out.append(
            f"\n{source}: right on {run['correct_long']}/{run['long_items']} items of 10 s or more,"
            f" {run['correct_all']}/{run['items']} in all; first commit p50 (≥ 10 s items)"
            f" {run['first_commit_p50_long']} s, decide p50 {run['decide_p50_long']} s"
        )
    return "\n".join(out)


def p50(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="after", help="name of this run in the JSON")
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--source", action="append", help="auto, auto:en,de,es,fr, ... (repeat)")
    parser.add_argument("--items", nargs="*", help="corpus item ids (default: all)")
    parser.add_argument("--clock", choices=["unaware", "real"], default="unaware")
    parser.add_argument("--seconds", type=float, default=0.0, help="only the first seconds")
    parser.add_argument("--batch", action="store_true", help="also the rtt batch path")
    parser.add_argument("--out", type=Path, default=Path("out/langid"))
    parser.add_argument(
        "--merge", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="print one table"
    )
    args = parser.parse_args()
    if args.merge:
        print(merged(*(json.loads(p.read_text()) for p in args.merge)))
        return
    from faster_whisper import decode_audio

    registry = EngineRegistry()
    items = [i for i in load_corpus() if not args.items or i.id in args.items]
    report: dict = {"label": args.label, "model": args.model, "clock": args.clock, "runs": {}}
    for source in args.source or ["auto"]:
        base = PipelineConfig(
            source=SourceConfig(realtime=args.clock == "real"),
            asr=asr_config(args.model, source),
            compute=ComputeConfig(device="cpu"),
        )
        rows, batch = [], []
        for item in items:
            audio = decode_audio(str(item.audio), sampling_rate=RATE)
            if args.seconds:
                audio = audio[: int(args.seconds * RATE)]
            config = dataclasses.replace(base, stream=item.id)
            events, stage, wall = await stream_item(config, registry, audio, args.clock == "real")
            rows.append(summarise(item, events, stage, wall))
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
            if args.batch:
                batch.append(batch_item(registry, config, item, audio, source))
                print(json.dumps(batch[-1]), flush=True)
        long = [r for r in rows if r["duration"] >= 10]
        report["runs"][source] = {
            "streaming": rows,
            "batch": batch,
            "correct_long": sum(r["detected"] == r["lang"] for r in long),
            "long_items": len(long),
            "correct_all": sum(r["detected"] == r["lang"] for r in rows),
            "items": len(rows),
            "first_commit_p50_long": p50(r["first_commit_s"] for r in long),
            "decide_p50_long": p50(r["decide_s"] for r in long),
            "batch_correct": sum(r["detected"] == r["lang"] for r in batch),
        }
        keys = ["item", "lang", "detected", "probability", "decide_s", "first_commit_s"]
        print(f"\n## {args.label}: {source} ({args.clock})\n\n" + table(rows, keys))
    registry.close()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.label}-{args.clock}.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
