"""The OpenAI-compatible API, through the official `openai` client, against a running server.

One server per module (loopback, port 0, the small models: whisper-tiny.en as
`whisper-1`, multilingual whisper-base by name, qwen2.5-coder-0.5b for
translation) runs in a thread with its own event loop; the tests call it as any
OpenAI app would. Keys: `good` and `tight` (whose audio allowance is small).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import urllib.error
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest
import srt

from pipeline.config import ASRConfig, ComputeConfig, MTConfig, PipelineConfig, SourceConfig
from rtt.server import RttServer, ServerConfig
from rtt.server.quotas import ApiLimits
from tests.conftest import ROOT, model_path, require_module

openai = require_module("openai", "pip install 'rtt[test]'")
pytestmark = pytest.mark.models

FOX = ROOT / "audio_samples" / "clip-en-quick-brown-fox.flac"  # "The quick brown fox ..."
WEATHER_DE = ROOT / "audio_samples" / "short-weather-de.flac"  # "Und nun das Wetter ..."
MAX_UPLOAD_MB = 1.0
AUDIO_PER_HOUR = 60.0


@pytest.fixture(scope="module")
def server(shared_registry, tmp_path_factory):
    for name in ("whisper-tiny.en", "whisper-base", "qwen2.5-coder-0.5b"):
        model_path(name)
    pipeline = PipelineConfig(
        source=SourceConfig(realtime=False),
        asr=ASRConfig(model="whisper-tiny.en", language="en"),
        mt=MTConfig(model="qwen2.5-coder-0.5b", fast_model=None, draft_model=None, targets=()),
        compute=ComputeConfig(device="cpu"),
    )
    config = ServerConfig(
        journal=tmp_path_factory.mktemp("journal"),
        port=0,
        tokens=("good", "tight"),
        pipeline=pipeline,
        api=ApiLimits(max_upload_mb=MAX_UPLOAD_MB, audio_per_hour=AUDIO_PER_HOUR, streams=2),
    )
    with _serve_in_thread(RttServer(config, shared_registry)) as running:
        yield running


@contextlib.contextmanager
def _serve_in_thread(server: RttServer):
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Event | None = None

    async def main():
        nonlocal stop
        stop = asyncio.Event()
        async with server:
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(60), "the server did not start"
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def client(server, key="good") -> openai.OpenAI:
    return openai.OpenAI(
        api_key=key, base_url=f"http://127.0.0.1:{server.port}/v1", max_retries=0, timeout=600
    )


def transcribe(server, path: Path = FOX, **kw):
    with path.open("rb") as f:
        return client(server).audio.transcriptions.create(model="whisper-1", file=f, **kw)


def test_models_lists_whisper_1_and_the_installed_models(server):
    ids = [m.id for m in client(server).models.list()]
    assert ids[0] == "whisper-1" and "whisper-base" in ids and "whisper-tiny.en" in ids


def test_transcription_json_text_and_verbose_json_with_words(server):
    assert "quick brown fox" in transcribe(server).text.lower()
    text = transcribe(server, response_format="text")
    assert isinstance(text, str) and "lazy dog" in text.lower()
    verbose = transcribe(
        server, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert verbose.language == "english" and verbose.duration == pytest.approx(3.55, abs=0.1)
    assert verbose.segments and verbose.segments[0].text.lower().startswith("the quick")
    words = verbose.words
    assert [w.word.strip(".,").lower() for w in words][:3] == ["the", "quick", "brown"]
    assert all(a.end <= b.start + 1e-6 and a.start <= a.end for a, b in zip(words, words[1:]))
    assert 0 <= words[0].start and words[-1].end <= verbose.duration


def test_transcription_srt_and_vtt_parse_back(server):
    cues = list(srt.parse(transcribe(server, response_format="srt")))
    assert cues and "fox" in " ".join(c.content for c in cues).lower()
    assert all(c.start < c.end for c in cues)
    vtt = transcribe(server, response_format="vtt")
    assert vtt.startswith("WEBVTT") and "-->" in vtt and "fox" in vtt.lower()


def test_translation_into_german_and_into_english_by_default(server):
    with FOX.open("rb") as f:
        german = client(server).audio.translations.create(
            model="whisper-1", file=f, extra_body={"target_language": "de,es"}
        )
    translations = german.model_extra["translations"]
    assert set(translations) == {"de", "es"} and german.text == translations["de"]
    assert "hund" in translations["de"].lower() and "perro" in translations["es"].lower()
    with WEATHER_DE.open("rb") as f:
        english = client(server).audio.translations.create(
            model="whisper-base", file=f, response_format="verbose_json"
        )
    assert english.language == "english" and "weather" in english.text.lower()


def test_streaming_sends_deltas_then_done(server):
    events = list(transcribe(server, stream=True))
    kinds = [e.type for e in events]
    assert kinds[-1] == "transcript.text.done" and kinds.count("transcript.text.done") == 1
    assert "transcript.text.delta" in kinds
    deltas = "".join(e.delta for e in events if e.type == "transcript.text.delta")
    assert deltas == events[-1].text and "fox" in deltas.lower()


def test_a_wrong_key_is_401(server):
    with pytest.raises(openai.AuthenticationError) as refused:
        with FOX.open("rb") as f:
            client(server, "nope").audio.transcriptions.create(model="whisper-1", file=f)
    assert refused.value.body["code"] == "invalid_api_key"


def test_an_unknown_model_is_404(server):
    with pytest.raises(openai.NotFoundError) as refused:
        with FOX.open("rb") as f:
            client(server).audio.transcriptions.create(model="whisper-9000", file=f)
    assert refused.value.body["code"] == "model_not_found"


def test_a_key_over_its_audio_quota_is_429_with_retry_after(server):
    long = _wav(AUDIO_PER_HOUR + 5)  # silence compresses to nothing, but counts in seconds
    with pytest.raises(openai.RateLimitError) as refused:
        client(server, "tight").audio.transcriptions.create(
            model="whisper-1", file=("long.flac", long)
        )
    assert refused.value.body["code"] == "audio_quota_exceeded"
    assert int(refused.value.response.headers["Retry-After"]) >= 1


def test_an_oversized_and_a_corrupt_upload(server):
    big = np.random.default_rng(0).bytes(int(MAX_UPLOAD_MB * 2**20) + 1024)
    with pytest.raises(openai.APIStatusError) as refused:
        client(server).audio.transcriptions.create(model="whisper-1", file=("big.wav", big))
    assert refused.value.status_code == 413 and refused.value.body["code"] == "file_too_large"
    with pytest.raises(openai.BadRequestError) as refused:
        client(server).audio.transcriptions.create(
            model="whisper-1", file=("notes.wav", b"this is not audio\n" * 1000)
        )
    assert refused.value.body["code"] == "invalid_file"


def test_errors_are_openai_shaped_without_the_client(server):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/v1/audio/transcriptions",
        data=b"model=whisper-1",
        headers={"Authorization": "Bearer good"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    error = json.loads(refused.value.read())["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == "file"


def _wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(4000)
        w.writeframes(b"\0\0" * int(seconds * 4000))
    return out.getvalue()
