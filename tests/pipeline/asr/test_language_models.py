"""Language ID with whisper-base on the corpus: detection only (no streaming run).

One batched detection per item over its speech (the manifest's utterance spans,
pauses removed), at most 15 s of it: what the streaming stage has heard when
`lid_max_speech` forces a decision, and what `rtt batch` looks at.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.asr.backend import LanguageRequest
from pipeline.asr.language import LanguageID, LanguagePolicy
from pipeline.audio_format import RATE
from pipeline.config import ASRConfig, ComputeConfig, PipelineConfig
from pipeline.factory import asr_engine
from pipeline.languages import LANGUAGES
from rtt.corpus import corpus_item, load_corpus
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


def redetections(duration: float, policy: LanguagePolicy) -> list[float]:
    """Where the stage re-detects over an utterance that gave evidence from its first passes:
    once `recheck_audio` seconds are heard, again every `recheck_growth`, at most
    `max_rechecks` times, and at the utterance's end."""
    points = []
    at = policy.recheck_audio
    while at < duration and len(points) < policy.max_rechecks:
        points.append(at)
        at += policy.recheck_growth
    return points + [duration] if len(points) < policy.max_rechecks else points


def test_a_question_in_german_is_followed_and_the_english_answer_too(shared_registry):
    """talk-question-en-de with `auto:en,de`: the re-detections the stage runs over the question's
    and the answer's utterances (whisper-base, real audio) switch to German during the question
    and back to English in the answer."""
    from faster_whisper import decode_audio

    model_path("whisper-base")
    config = PipelineConfig(
        asr=ASRConfig(model="whisper-base"), compute=ComputeConfig(device="cpu")
    )
    backend = asr_engine(shared_registry, config).backend
    item = corpus_item("talk-question-en-de")
    audio = decode_audio(str(item.audio), sampling_rate=RATE)
    lid = LanguageID(("en", "de"))
    first = item.utterances[0]
    (probs,) = backend.detect_batch([LanguageRequest(audio[: int(first.end * RATE)])])
    assert lid.observe(probs, first.end - first.start) and lid.language == "en"
    german = [i for i, u in enumerate(item.utterances) if u.lang == "de"]
    turns = item.utterances[german[0] : german[-1] + 2]  # the question, then the answer
    windows = [
        (u, t) for u in turns for t in redetections(u.end - u.start, lid.policy)
    ]  # a window of each utterance's first t seconds
    requests = [
        LanguageRequest(audio[int(u.start * RATE) : int((u.start + t) * RATE)]) for u, t in windows
    ]
    speech, followed = 30.0, []  # past the cooldown of the first decision
    detected = dict(zip(range(len(windows)), backend.detect_batch(requests)))
    for utt in turns:
        lid.turn(speech)
        lid.request(speech)  # the passes' own short windows doubt it (evidence)
        for k, (u, t) in enumerate(windows):
            if u is utt and lid.hold:
                lid.observe(detected[k], speech + t, final=t == u.end - u.start)
        speech += utt.end - utt.start
        followed.append(lid.language)
    assert followed[-1] == "en" and "de" in followed[:-1], followed
    assert lid.switches == 2
