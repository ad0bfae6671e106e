"""Run the live pipeline over corpus items and record what it emits.

The pipeline is built by `pipeline.factory.build_pipeline`, exactly as for
`rtt translate`; the harness adds only an observer and a clock:
- computation-unaware: `SimulatedClock`, audio time advances only when every stage
  is idle, so runs are repeatable to the event and free of the machine's speed;
- computation-aware: `RealClock`, the file is fed at real-time pace and delays are
  what a listener would see on this machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.audio import open_source
from pipeline.clock import RealClock, SimulatedClock
from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.events import Event
from pipeline.factory import asr_engine, build_pipeline, load_engines
from pipeline.runner import Pipeline
from rtt.corpus import CorpusItem

from .metrics import match_words, simple_words
from .observer import EventRecorder
from .scoring import word_ends_from_utterances

__all__ = [
    "ItemRun",
    "Mode",
    "item_config",
    "make_pipeline",
    "offline_word_ends",
    "run_item",
    "supports",
]

Mode = Literal["unaware", "aware"]


@dataclass(frozen=True)
class ItemRun:
    """The recorded events of one item under one setting and clock."""

    item_id: str
    mode: Mode
    targets: tuple[str, ...]
    events: tuple[Event, ...]
    busy: dict[str, float]  # compute seconds per stage
    wall_s: float
    audio_s: float


def supports(config: PipelineConfig, item: CorpusItem) -> bool:
    """An English-only Whisper (".en") cannot transcribe other languages."""
    return item.languages == ("en",) or not config.asr.model.endswith(".en")


def item_config(
    config: PipelineConfig,
    item: CorpusItem,
    targets: Sequence[str] = (),
    *,
    aware: bool,
    auto_language: bool = False,
) -> PipelineConfig:
    """The setting's config for one item: its language (unless the setting leaves it to
    `auto`, to measure language ID; an item that switches language is given its languages as
    candidates, `auto:en,de`), its reference languages as targets."""
    langs = tuple(lang for lang in item.translations if not targets or lang in targets)
    pinned = item.lang if len(item.languages) == 1 else "auto:" + ",".join(item.languages)
    language = config.asr.language if auto_language else pinned
    return dataclasses.replace(
        config,
        stream=item.id,
        asr=dataclasses.replace(config.asr, language=language),
        mt=dataclasses.replace(config.mt, targets=langs),
        source=dataclasses.replace(config.source, realtime=aware),
    )


def make_pipeline(
    config: PipelineConfig, item: CorpusItem, registry: EngineRegistry, recorder: EventRecorder
) -> Pipeline:
    """The same factory as `rtt translate`, with the clock the mode asks for."""
    source = open_source(str(item.audio), stream=config.stream, config=config.source)
    clock = RealClock() if config.source.realtime else SimulatedClock()
    return build_pipeline(config, source, registry, clock=clock, observers=[recorder])


async def run_item(
    config: PipelineConfig,
    item: CorpusItem,
    registry: EngineRegistry,
    *,
    mode: Mode,
    targets: Sequence[str] = (),
    auto_language: bool = False,
) -> ItemRun:
    """Run one item to its end and return every event it emitted."""
    config = item_config(config, item, targets, aware=mode == "aware", auto_language=auto_language)
    await asyncio.to_thread(load_engines, registry, config)  # loads are not part of the run
    recorder = EventRecorder()
    pipeline = make_pipeline(config, item, registry, recorder)
    started = time.perf_counter()
    async for _ in pipeline.run():
        pass
    return ItemRun(
        item_id=item.id,
        mode=mode,
        targets=config.mt.targets,
        events=tuple(recorder.events),
        busy={k: round(v, 3) for k, v in pipeline.stats().busy.items()},
        wall_s=round(time.perf_counter() - started, 3),
        audio_s=item.duration,
    )


def _interpolate(ends: list[float | None], item: CorpusItem) -> list[float]:
    """Fill reference words the offline decode missed, between their matched neighbours."""
    out: list[float] = []
    index = 0
    for utt in item.utterances:
        n = len(simple_words(utt.text))
        span = ends[index : index + n]
        known = [(i, min(max(t, utt.start), utt.end)) for i, t in enumerate(span) if t is not None]
        anchors = [(-1, utt.start)] + known + [(n, utt.end)]
        for (i0, t0), (i1, t1) in zip(anchors, anchors[1:]):
            out += [round(t0 + (t1 - t0) * (k - i0) / (i1 - i0), 3) for k in range(i0 + 1, i1)]
            if i1 < n:
                out.append(round(t1, 3))
        index += n
    return out


def offline_word_ends(
    item: CorpusItem, config: PipelineConfig, registry: EngineRegistry, model: str
) -> list[float]:
    """End time of every reference word, from word timestamps of an offline decode of the file.

    Decoded words are aligned to the reference words; reference words without a
    decoded partner are interpolated inside their utterance. Falls back to the
    utterance boundaries when the model cannot decode the item's language, or when the
    item switches language (one decode has one language).
    """
    decode_config = dataclasses.replace(
        config, asr=dataclasses.replace(config.asr, model=model, language=item.lang)
    )
    if not supports(decode_config, item) or len(item.languages) > 1:
        return word_ends_from_utterances(item)
    whisper = asr_engine(registry, decode_config).backend.whisper_model
    segments, _ = whisper.transcribe(
        str(item.audio),
        language=item.lang,
        word_timestamps=True,
        beam_size=1,
        condition_on_previous_text=False,
    )
    decoded = [
        (tok, w.end)
        for s in list(segments)
        for w in (s.words or [])
        for tok in simple_words(w.word)
    ]
    reference = simple_words(item.transcript)
    ends: list[float | None] = [None] * len(reference)
    for i, j in match_words(reference, [tok for tok, _ in decoded]):
        ends[i] = decoded[j][1]
    return _interpolate(ends, item)
