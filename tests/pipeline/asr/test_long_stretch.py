"""A long stretch without a pause never stops the stream (Whisper's 30 s window; tiny.en, real VAD).

Before the window rule, 30 s of noise (one long "utterance" for the VAD, nothing
committed, so the buffer was never trimmed) made CTranslate2 raise "Invalid input
features shape" and ended the stream with an `internal` error.
"""

from __future__ import annotations

import dataclasses

import jiwer
import numpy as np
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from pipeline.asr.stage import ASRStage
from pipeline.audio_format import RATE
from pipeline.clock import SimulatedClock
from pipeline.events import End, Error, SourceCommit
from pipeline.factory import asr_engine
from pipeline.runner import Pipeline
from pipeline.vad.stage import VADStage
from rtt.corpus import corpus_item
from tests.support import ArraySource

pytestmark = pytest.mark.models


async def run(config, registry, audio):
    config = dataclasses.replace(config, asr=dataclasses.replace(config.asr, step=2.0))
    stages = [VADStage(config.vad, stream="s"), ASRStage(asr_engine(registry, config), config.asr)]
    pipeline = Pipeline(ArraySource(audio, "s"), stages, clock=SimulatedClock(), stream="s")
    events = [e async for e in pipeline.run()]
    return events, stages[1]


async def test_sixty_seconds_of_noise(small_config, shared_registry):
    noise = np.random.default_rng(7).uniform(-0.3, 0.3, 60 * RATE).astype(np.float32)
    events, stage = await run(small_config, shared_registry, noise)
    assert not [e for e in events if isinstance(e, Error)]
    assert isinstance(events[-1], End) and stage.passes > 10


async def test_forty_five_seconds_of_speech_without_a_pause(small_config, shared_registry):
    from faster_whisper import decode_audio

    item = corpus_item("talk-opening-en")
    audio = decode_audio(str(item.audio), sampling_rate=RATE)
    spans, texts, total = [], [], 0.0
    for u in item.utterances:  # the utterances back to back, the pauses cut out
        if total >= 45:
            break
        spans.append(audio[int(u.start * RATE) : int(u.end * RATE)])
        texts.append(u.text)
        total += u.end - u.start
    events, _ = await run(small_config, shared_registry, np.concatenate(spans))
    assert not [e for e in events if isinstance(e, Error)] and isinstance(events[-1], End)
    said = " ".join(e.text for e in events if isinstance(e, SourceCommit))
    norm = EnglishTextNormalizer()
    assert jiwer.wer(norm(" ".join(texts)), norm(said)) < 0.25, said
