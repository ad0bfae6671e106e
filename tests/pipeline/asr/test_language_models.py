"""Language ID with whisper-base on the corpus: detection only (no streaming run).

One batched detection per item over its speech (the manifest's utterance spans,
pauses removed), at most 15 s of it: what the streaming stage has heard when
`lid_max_speech` forces a decision, and what `rtt batch` looks at.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.asr.backend import LanguageRequest
from pipeline.asr.language import LanguageID
from pipeline.audio_format import RATE
from pipeline.config import ASRConfig, ComputeConfig, PipelineConfig
from pipeline.factory import asr_engine
from pipeline.languages import LANGUAGES
from rtt.corpus import load_corpus
from tests.conftest import model_path

pytestmark = pytest.mark.models
CANDIDATES = ("en", "de", "es", "fr")


def speech_of(item, seconds: float) -> np.ndarray:
    from faster_whisper import decode_audio

    audio = decode_audio(str(item.audio), sampling_rate=RATE)
    spans = [
        audio[max(0, int((u.start - 0.3) * RATE)) : int(u.end * RATE)] for u in item.utterances
    ]
    return np.concatenate(spans)[: int(seconds * RATE)]


@pytest.fixture(scope="module")
def detections(shared_registry):
    model_path("whisper-base")
    config = PipelineConfig(
        asr=ASRConfig(model="whisper-base"), compute=ComputeConfig(device="cpu")
    )
    backend = asr_engine(shared_registry, config).backend
    items = load_corpus()
    requests = [LanguageRequest(speech_of(item, 15.0)) for item in items]
    return {
        item.id: (item, probs, len(r.audio) / RATE)
        for item, r, probs in zip(items, requests, backend.detect_batch(requests))
    }


def decide(probs, speech, candidates=()):
    lid = LanguageID(candidates or tuple(LANGUAGES))
    lid.observe(probs, speech, final=True)
    return lid.language, lid.probability


def test_plain_auto_is_right_on_every_item_of_10_s_or_more(detections):
    wrong = {
        i: decide(probs, speech)
        for i, (item, probs, speech) in detections.items()
        if item.duration >= 10 and decide(probs, speech)[0] != item.lang
    }
    assert not wrong


def test_candidates_are_right_on_every_item(detections):
    wrong = {
        i: decide(probs, speech, CANDIDATES)
        for i, (item, probs, speech) in detections.items()
        if decide(probs, speech, CANDIDATES)[0] != item.lang
    }
    assert not wrong
