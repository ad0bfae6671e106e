"""The glossary in Whisper's prompt with the real models: a name heard right with it, and no
glossary term read into silence, noise or short speech without one (issue 18)."""

import numpy as np
import pytest

from pipeline.asr.backend import ASRRequest
from pipeline.asr.respell import respell
from pipeline.asr.terms_prompt import source_terms
from pipeline.asr.whisper_backend import WhisperBackend
from pipeline.glossary import load_glossary, term_in
from pipeline.models.cache import model_dir
from pipeline.words import join_words
from rtt.corpus import corpus_item

pytestmark = pytest.mark.models

ITEM = corpus_item("talk-energy-en")
TERMS = source_terms(load_glossary(ITEM.glossary), "en")
CONTEXT = "Good afternoon, and thank you for joining this session on the energy transition."


@pytest.fixture(scope="module", params=["whisper-tiny.en", "whisper-base"])
def backend(request):
    return WhisperBackend(model_dir(request.param))


def decode(backend, audio, **prompt):
    return join_words(backend.transcribe_batch([ASRRequest(audio, "en", **prompt)])[0].words)


def test_a_company_name_is_misheard_without_the_glossary_and_right_with_it(backend):
    from faster_whisper import decode_audio

    # "... and I lead the steering committee of Nordlicht Energy." (7.0-9.9 s)
    audio = decode_audio(str(ITEM.audio), sampling_rate=16000)[7 * 16000 : int(9.9 * 16000)]
    without = decode(backend, audio)
    with_terms = decode(backend, audio, terms=TERMS)
    assert "Nordlicht Energy" not in without, without  # e.g. "Nordlett -Tenergie"
    assert "Nordlicht Energy" in with_terms, with_terms
    assert "steering committee" in with_terms


def test_near_misses_the_prompt_leaves_are_respelled_as_the_terms(backend):
    from faster_whisper import decode_audio

    # "My colleague Ingrid Halvorsen negotiated a new feed-in tariff with the grid operator."
    audio = decode_audio(str(ITEM.audio), sampling_rate=16000)[
        int(24.4 * 16000) : int(29.4 * 16000)
    ]
    words = backend.transcribe_batch([ASRRequest(audio, "en", terms=TERMS)])[0].words
    assert "feeding tariff" in join_words(words)  # both models, even with the prompt
    text = join_words(respell(list(words), TERMS))
    assert "Halvorsen" in text and "feed-in tariff" in text, text
    assert "grid operator" in text


def non_speech() -> dict[str, np.ndarray]:
    from faster_whisper import decode_audio

    rng = np.random.default_rng(7)
    t = np.arange(32000) / 16000
    hello = decode_audio("audio_samples/clip-en-hello-world.flac", sampling_rate=16000)
    return {
        "silence": np.zeros(48000, np.float32),
        "faint noise": (rng.standard_normal(48000) * 0.005).astype(np.float32),
        "loud noise": (rng.standard_normal(48000) * 0.1).astype(np.float32),
        "hum": (0.05 * np.sin(2 * np.pi * 50 * t)).astype(np.float32),
        "hello world": hello,
        "hello, first 0.6 s": hello[:9600],
    }


def test_no_glossary_term_is_read_into_silence_noise_or_other_speech(backend):
    for name, audio in non_speech().items():
        for prompt in ({"terms": TERMS}, {"terms": TERMS, "prompt": CONTEXT}):
            text = decode(backend, audio, **prompt)
            found = [t for t in TERMS if term_in(t, text)]
            assert not found, (name, prompt.keys(), text)
