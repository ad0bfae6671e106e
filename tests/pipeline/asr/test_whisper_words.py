"""Whisper's own spelling survives streaming: "Wi-Fi", not "Wi -Fi" (tiny.en, real audio)."""

import pytest

from pipeline.asr.backend import ASRRequest
from pipeline.factory import asr_engine
from pipeline.words import join_words
from rtt.corpus import corpus_item

pytestmark = pytest.mark.models


def test_a_hyphenated_word_keeps_its_spelling(small_config, shared_registry):
    from faster_whisper import decode_audio

    item = corpus_item("talk-opening-en")
    audio = decode_audio(str(item.audio), sampling_rate=16000)[
        int(67.5 * 16000) : int(71.5 * 16000)
    ]
    backend = asr_engine(shared_registry, small_config).backend
    words = backend.transcribe_batch([ASRRequest(audio, "en")])[0].words
    text = join_words(words)
    assert "Wi-Fi" in text, text
    assert any(w.glued for w in words)  # the piece is kept as Whisper wrote it
