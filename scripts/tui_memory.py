#!/usr/bin/env python3
"""Memory of the live TUI over a long session: RSS while N minutes of audio go through it.

The sample talk is looped through the app's own session (pipeline, worker, panes,
file-backed store) headless, on the simulated clock, so 30 minutes of audio take
as long as the CPU needs rather than 30 minutes. RSS is sampled every
`--every` seconds of audio; the JSON gives the samples and the growth after
warm-up (the first sample is taken once the models are loaded and speech flows).

`--synthetic` replays the talk's reference transcript and translations as events
instead (no models: partials word by word, then commits), which reaches many
hours of text in minutes: that shows the panes' bound and the store at work.

  .venv/bin/python scripts/tui_memory.py --minutes 30 --json out/tui_memory.json
  .venv/bin/python scripts/tui_memory.py --synthetic --minutes 600 --every 1800 --json out/tui_memory_synthetic.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faster_whisper.audio import decode_audio  # noqa: E402

from pipeline.config import ASRConfig, ComputeConfig, MTConfig, PipelineConfig, SourceConfig  # noqa: E402
from pipeline.engine import EngineRegistry  # noqa: E402
from pipeline.events import (
    AudioChunk,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    TargetCommit,
    TargetPartial,
)  # noqa: E402
from rtt.corpus import corpus_item  # noqa: E402
from rtt.tui import LiveApp, LiveSession, LiveStats  # noqa: E402

RATE = 16000
CHUNK = 1600  # 0.1 s, as the real sources


class LoopSource:
    """The talk, decoded once and played `loops` times back to back on the stream clock."""

    def __init__(self, samples: np.ndarray, loops: int, stream: str) -> None:
        self.samples, self.loops, self.stream = samples, loops, stream

    async def chunks(self, clock):
        at = 0
        for _ in range(self.loops):
            for i in range(0, len(self.samples), CHUNK):
                block = self.samples[i : i + CHUNK]
                await clock.sleep_until((at + len(block)) / RATE)
                yield AudioChunk(stream=self.stream, start=at / RATE, samples=block)
                at += len(block)

    async def close(self) -> None:
        pass


class SyntheticSession:
    """The talk's reference utterances and translations as events, looped: the TUI without models."""

    starting, live, paused = "starting…", False, False

    def __init__(self, item, loops: int, targets: tuple[str, ...]) -> None:
        self.item, self.loops, self.targets = item, loops, targets
        self.ready, self.audio_seconds = False, 0.0

    async def events(self):
        self.ready, number, sentence = True, 0, 0
        for loop in range(self.loops):
            offset = loop * self.item.duration
            for utt in self.item.utterances:
                number, sentence = number + 1, sentence + 1
                start, end = offset + utt.start, offset + utt.end
                yield SpeechStart(stream="s0", utterance=number, emitted=start, start=start)
                words = utt.text.split()
                for i in range(1, len(words) + 1):  # a partial per word, then the commit
                    yield SourcePartial(
                        stream="s0",
                        utterance=number,
                        emitted=end,
                        lang="en",
                        text=" ".join(words[:i]),
                    )
                for lang in self.targets:
                    yield TargetPartial(
                        stream="s0",
                        utterance=number,
                        emitted=end,
                        lang=lang,
                        sentence=sentence,
                        text=utt.translations[lang][:40],
                    )
                yield SourceCommit(
                    stream="s0",
                    utterance=number,
                    emitted=end + 0.5,
                    lang="en",
                    text=utt.text,
                    words=(),
                    start=start,
                    end=end,
                )
                yield SpeechEnd(stream="s0", utterance=number, emitted=end + 0.5, end=end)
                for lang in self.targets:
                    yield TargetCommit(
                        stream="s0",
                        utterance=number,
                        emitted=end + 1.0,
                        lang=lang,
                        sentence=sentence,
                        text=utt.translations[lang],
                        start=start,
                        end=end,
                    )
                self.audio_seconds = end
                await asyncio.sleep(
                    0.01
                )  # let the app handle what was posted (the real pipeline is far slower)

    def stats(self) -> LiveStats:
        return LiveStats(models="synthetic (reference texts)", audio_seconds=self.audio_seconds)

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def set_targets(self, targets) -> None: ...
    async def switch_source(self, source, label) -> None: ...
    def use_device(self, spec, label) -> None: ...
    def end_input(self) -> None: ...
    async def close(self) -> None: ...


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=30.0, help="minutes of audio (default: 30)")
    p.add_argument(
        "--item", default="talk-opening-en", help="corpus item to loop (default: talk-opening-en)"
    )
    p.add_argument("--asr-model", default="whisper-tiny.en", help="default: whisper-tiny.en")
    p.add_argument(
        "--mt-model",
        default="smollm2-135m",
        help="default: smollm2-135m (the text, not its quality, is the point)",
    )
    p.add_argument("--to", default="de", help="target languages, comma-separated (default: de)")
    p.add_argument(
        "--asr-step",
        type=float,
        default=0.6,
        help="seconds of audio between streaming ASR passes (default: 0.6; larger is cheaper)",
    )
    p.add_argument(
        "--no-partials",
        action="store_true",
        help="no tentative re-translations (cheaper; commits only)",
    )
    p.add_argument(
        "--every",
        type=float,
        default=60.0,
        help="seconds of audio between RSS samples (default: 60)",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="replay reference texts as events instead of running the models (hours of text in minutes)",
    )
    p.add_argument("--json", type=Path, help="write the results here")
    return p.parse_args()


def config(args: argparse.Namespace) -> PipelineConfig:
    return PipelineConfig(
        source=SourceConfig(realtime=False),
        asr=ASRConfig(model=args.asr_model, language="en", step=args.asr_step),
        mt=MTConfig(
            model=args.mt_model,
            fast_model=None,
            draft_model=None,
            targets=tuple(args.to.split(",")),
            partials=not args.no_partials,
        ),
        compute=ComputeConfig(device="cpu"),
    )


def rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


async def measure(args: argparse.Namespace) -> dict:
    item = corpus_item(args.item)
    samples = decode_audio(str(item.audio), sampling_rate=RATE)
    loops = max(1, round(args.minutes * 60 * RATE / len(samples)))
    cfg = config(args)
    registry = EngineRegistry()
    if args.synthetic:
        session = SyntheticSession(item, loops, cfg.mt.targets)
    else:
        session = LiveSession(
            cfg,
            lambda c: LoopSource(samples, loops, c.stream),
            registry,
            live=False,
            input_label="loop",
        )
    app = LiveApp(session, targets=cfg.mt.targets, source_lang="en")
    rows, started, next_mark = [], time.perf_counter(), 0.0
    async with app.run_test(size=(140, 40)) as pilot:
        while app.state not in ("ended", "failed"):
            await pilot.pause(0.5)
            audio = audio_seconds(session)
            if session.ready and audio >= next_mark:
                rows.append(sample(app, audio, started))
                next_mark = audio + args.every
                write(args, {"state": "running", "loops": loops, "samples": rows, **summary(rows)})
        rows.append(sample(app, audio_seconds(session), started))
        state = app.state
    registry.close()
    return {"state": state, "loops": loops, "samples": rows, **summary(rows)}


def audio_seconds(session) -> float:
    if isinstance(session, SyntheticSession):
        return session.audio_seconds
    return session.gate.audio_seconds if session.gate else 0.0


def sample(app: LiveApp, audio: float, started: float) -> dict:
    panes = [app.source_pane, *app.panes.values()]
    return {
        "audio_s": round(audio, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "rss_mb": round(rss_mb(), 1),
        "store_pieces": app.store.count,
        "store_bytes": app.store.path.stat().st_size,
        "paragraphs_in_widgets": sum(len(p.paragraphs) for p in panes),
        "paragraphs_moved_to_store": sum(p.dropped for p in panes),
    }


def summary(rows: list[dict]) -> dict:
    warm = [
        r for r in rows if r["audio_s"] >= 120
    ] or rows  # after two minutes: models and caches warm
    hours = (warm[-1]["audio_s"] - warm[0]["audio_s"]) / 3600
    growth = warm[-1]["rss_mb"] - warm[0]["rss_mb"]
    return {
        "rss_first_mb": rows[0]["rss_mb"],
        "rss_warm_mb": warm[0]["rss_mb"],
        "rss_last_mb": rows[-1]["rss_mb"],
        "rss_peak_mb": max(r["rss_mb"] for r in rows),
        "growth_after_warmup_mb": round(growth, 1),
        "growth_mb_per_audio_hour": round(growth / hours, 1) if hours > 0 else None,
    }


def write(args: argparse.Namespace, measured: dict) -> str:
    """The whole result so far (written after every sample, so a stopped run still leaves its data)."""
    names = (
        "minutes",
        "item",
        "asr_model",
        "mt_model",
        "to",
        "asr_step",
        "no_partials",
        "every",
        "synthetic",
    )
    settings = {k: getattr(args, k) for k in names}
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "settings": {**settings, "clock": "simulated", "device": "cpu int8"},
        **measured,
    }
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return text


def main() -> int:
    args = parse()
    measured = asyncio.run(measure(args))
    print(write(args, measured))
    return 0 if measured["state"] == "ended" else 1


if __name__ == "__main__":
    sys.exit(main())
