"""Live first: a long file job on /v1 never holds a live room's translations back by
more than the one engine batch in flight, and still completes (fake engines).

The fake translator holds every call until released. A file (heard as Spanish, so its
requests are told apart) is sent to /v1/audio/translations; its first batch of
sentences goes in and is held, the rest queue. Then a room's speaker says a sentence
in English. On release the very next batch the translator gets must be the room's;
the file's answer then holds every sentence, translated.
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
import uuid
import wave

import numpy as np

from pipeline.factory import mt_engines
from pipeline.fakes import FakeTranslator
from pipeline.offline import read_audio
from tests.conftest import ROOT

from .helpers import running_server, speak_frames, speech

FOX = ROOT / "audio_samples" / "clip-en-quick-brown-fox.flac"


async def long_file(copies: int = 20) -> bytes:
    """The fox clip `copies` times, a second of silence after each, as 16 kHz WAV."""
    clip = await read_audio(FOX)
    silence = np.zeros(16000, np.float32)
    audio = np.concatenate([np.concatenate([clip, silence]) for _ in range(copies)])
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def post_form(url: str, fields: dict, file: bytes) -> dict:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="long.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + file
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


async def until(condition, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_live_room_goes_before_a_long_file_job(tmp_path):
    translator = FakeTranslator()
    audio = await long_file()
    async with running_server(tmp_path / "journal", translator=translator) as server:
        engine, _ = mt_engines(server.registry, server.config.pipeline)
        translator.hold()
        url = f"http://127.0.0.1:{server.port}/v1/audio/translations"
        fields = {"model": "whisper-1", "language": "es", "response_format": "verbose_json"}
        job = asyncio.create_task(
            asyncio.to_thread(post_form, url, {**fields, "target_language": "de"}, audio)
        )
        await until(lambda: translator.requests and engine.waiting >= 16)  # 2+ batches queued
        in_flight = len(translator.requests)  # the file's first batch, held
        queued = engine.waiting
        room = asyncio.create_task(
            speak_frames(
                server.url,
                speech(1),
                start={"room": "live", "targets": ["de"], "partials": False},
                speed=8.0,
            )
        )
        await until(lambda: engine.waiting > queued)  # the room's sentence waits too
        translator.release()
        frames = await room
        answer = await job
    order = [r.source_lang for r in translator.requests]
    assert set(order[:in_flight]) == {"es"}
    assert order[in_flight] == "en"  # served right after the batch in flight
    assert order.count("es") > in_flight + 8  # ... though more of the file's were queued first
    live = [f for f in frames if f["type"] == "target_commit"]
    assert live and all(f["text"].startswith("[de] ") for f in live)
    segments = answer["segments"]
    assert len(segments) == order.count("es") and answer["language"] == "german"
    assert all(s["text"].startswith("[de] w") for s in segments)
