"""The /v1 API's pure pieces: per-key quotas and the response shapes, without a server."""

from __future__ import annotations

import json

import srt

from pipeline.events import Word
from pipeline.mt.sentences import Sentence
from pipeline.offline import OfflineResult, SpeechSegment
from rtt.server.openai_formats import ApiError, render
from rtt.server.quotas import ApiLimits, Quotas


def test_streams_per_key_and_the_keyless_server():
    quotas = Quotas(ApiLimits(streams=2))
    assert quotas.open_stream("a") is None and quotas.open_stream("a") is None
    refused = quotas.open_stream("a")
    assert refused is not None and refused.code == "too_many_streams"
    assert quotas.open_stream("b") is None  # another key has its own slots
    quotas.close_stream("a")
    assert quotas.open_stream("a") is None
    assert all(quotas.open_stream("") is None for _ in range(10))  # no keys: no per-key limit


def test_audio_per_sliding_hour_says_when_to_retry():
    quotas = Quotas(ApiLimits(audio_per_hour=100.0))
    assert quotas.charge_audio("k", 60.0, now=0.0) is None
    assert quotas.charge_audio("k", 30.0, now=600.0) is None
    refused = quotas.charge_audio("k", 50.0, now=1200.0)
    assert refused is not None and refused.code == "audio_quota_exceeded"
    assert refused.retry_after == 3600.0 - 1200.0  # when the first 60 s leave the hour
    assert quotas.charge_audio("k", 50.0, now=3600.0) is None
    assert quotas.charge_audio("k", 500.0, now=3600.0).retry_after == 3600.0  # never fits


def test_a_speakers_many_small_messages_count_and_leave_the_hour():
    quotas = Quotas(ApiLimits(audio_per_hour=100.0))
    for i in range(600):  # a speaker: 0.1 s messages, 60 s of audio over 60 s
        assert quotas.charge_audio("k", 0.1, now=i * 0.1) is None
    assert quotas.exhausted("k", now=60.0) is None
    refused = quotas.charge_audio("k", 49.0, now=60.0)
    assert refused is not None and refused.code == "audio_quota_exceeded"
    # 9 s must leave the hour: the first bucket (10 s of audio), whose last message is at 9.9 s
    assert 3549 <= refused.retry_after <= 3551
    assert quotas.charge_audio("k", 40.0, now=61.0) is None
    assert quotas.exhausted("k", now=62.0) is not None  # 100 of 100 s used
    assert quotas.exhausted("k", now=3600.0 + 60.0) is None  # the stream's audio left the hour
    assert quotas.charge_audio("k", 59.0, now=3600.0 + 60.0) is None


def result() -> OfflineResult:
    first = (Word("Hello", 0.5, 0.9), Word("world.", 1.0, 1.4))
    second = (Word("Good", 2.0, 2.3), Word("bye.", 2.4, 2.8))
    sentences = (Sentence(0, 1, first, "en"), Sentence(1, 2, second, "en"))
    translations = {"de": ("Hallo Welt.", "Tschüss."), "es": ("Hola mundo.", "Adiós.")}
    segments = (SpeechSegment(0.4, 1.5), SpeechSegment(1.9, 2.9))
    return OfflineResult("s", 3.0, "en", segments, sentences, translations)


def test_transcription_shapes():
    assert render(result(), task="transcribe", fmt="json").body == {
        "text": "Hello world. Good bye."
    }
    text = render(result(), task="transcribe", fmt="text")
    assert text.body == "Hello world. Good bye.\n" and text.media_type.startswith("text/plain")
    verbose = render(result(), task="transcribe", fmt="verbose_json", words=True).body
    assert verbose["task"] == "transcribe" and verbose["language"] == "english"
    assert verbose["duration"] == 3.0 and [s["text"] for s in verbose["segments"]] == [
        "Hello world.",
        "Good bye.",
    ]
    assert verbose["words"][0] == {"word": "Hello", "start": 0.5, "end": 0.9}
    json.dumps(verbose)  # serialisable as is
    cues = list(srt.parse(render(result(), task="transcribe", fmt="srt").body))
    assert [c.content for c in cues] == ["Hello world.", "Good bye."]
    vtt = render(result(), task="transcribe", fmt="vtt").body
    assert vtt.startswith("WEBVTT") and "00:00:00.500 --> " in vtt


def test_translation_shapes_with_several_targets():
    one = render(result(), task="translate", fmt="verbose_json", targets=("de",)).body
    assert one["text"] == "Hallo Welt. Tschüss." and one["language"] == "german"
    assert "words" not in one and "translations" not in one
    both = render(result(), task="translate", fmt="json", targets=("de", "es")).body
    assert both == {
        "text": "Hallo Welt. Tschüss.",
        "translations": {"de": "Hallo Welt. Tschüss.", "es": "Hola mundo. Adiós."},
    }
    cues = list(srt.parse(render(result(), task="translate", fmt="srt", targets=("es",)).body))
    assert [c.content for c in cues] == ["Hola mundo.", "Adiós."]


def test_errors_are_openai_shaped():
    error = ApiError(404, "no such model", code="model_not_found", param="model")
    assert error.body() == {
        "error": {
            "message": "no such model",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
