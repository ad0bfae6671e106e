"""A key's audio per hour counts websocket speakers and /v1 files in one allowance
(fake engines): a speaker that runs out mid-stream keeps what it said, everyone in
the room is told, the speaker is closed with 4029; the key then gets 429 on /v1."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error
import urllib.request
import wave

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtt.server.quotas import ApiLimits

from .helpers import running_server, speech

ALLOWANCE = 5.0  # seconds of audio per hour for every key
TIGHT = {"Authorization": "Bearer tight"}


async def speak(url, audio: bytes, *, start: dict, headers, speed=4.0):
    """Send `start`, the audio in 0.1 s frames, `stop`; (frames received, close code)."""
    frames = []
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "start", **start}))

        async def send():
            try:
                for i in range(0, len(audio), 3200):
                    await ws.send(audio[i : i + 3200])
                    await asyncio.sleep(0.1 / speed)
                await ws.send(json.dumps({"type": "stop"}))
            except ConnectionClosed:
                pass  # refused mid-stream

        sender = asyncio.create_task(send())
        try:
            async for text in ws:
                frames.append(json.loads(text))
        except ConnectionClosed:
            pass  # a close code other than 1000: read below
        await sender
        return frames, ws.close_code


async def listen(url, join: dict, ready: asyncio.Event):
    frames = []
    async with connect(url, additional_headers={"Authorization": "Bearer good"}) as ws:
        await ws.send(json.dumps({"type": "join", **join}))
        frames.append(json.loads(await ws.recv()))
        ready.set()
        ended = set()
        async for text in ws:
            frames.append(json.loads(text))
            if frames[-1]["type"] == "end":
                ended.add(frames[-1]["channel"])
            if ended >= set(frames[0]["channels"]):
                break
    return frames


def upload(port: int, key: str, seconds: float = 1.0):
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * int(seconds * 16000))
    body = (
        b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        + wav.getvalue()
        + b"\r\n--b--\r\n"
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/audio/transcriptions",
        data=body,
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "multipart/form-data; boundary=b",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


@pytest.fixture
def options():
    return {"tokens": ("good", "tight"), "api": ApiLimits(audio_per_hour=ALLOWANCE)}


async def test_a_speaker_out_of_audio_keeps_what_it_said_and_the_room_is_told(tmp_path, options):
    async with running_server(tmp_path / "journal", **options) as server:
        ready = asyncio.Event()
        listener = asyncio.create_task(
            listen(server.url, {"room": "q", "languages": ["de"]}, ready)
        )
        await ready.wait()
        frames, code = await speak(
            server.url, speech(3), start={"room": "q", "targets": []}, headers=TIGHT
        )
        heard = await listener
        status, headers, body = await asyncio.to_thread(upload, server.port, "tight")
        other, _, _ = await asyncio.to_thread(upload, server.port, "good")
    assert code == 4029
    kinds = [f["type"] for f in frames]
    assert kinds[-2:] == ["error", "end"] and frames[-2]["code"] == "audio_quota_exceeded"
    said = " ".join(f["text"] for f in frames if f["type"] == "source_commit")
    assert said.startswith("w1 w2 w3 w4.")  # the first utterance, before the allowance ran out
    # every channel of the listener: what was said, then the error, then `end`
    for channel in ("source", "de"):
        mine = [f for f in heard[1:] if f["channel"] == channel]
        assert [f["type"] for f in mine[-2:]] == ["error", "end"]
        assert mine[-2]["code"] == "audio_quota_exceeded"
    assert any(f["type"] == "target_commit" for f in heard)
    # the same allowance on /v1: this key is spent, the other is not
    assert status == 429 and body["error"]["code"] == "audio_quota_exceeded"
    assert int(headers["Retry-After"]) >= 1 and other == 200


async def test_a_spent_key_cannot_start_speaking_but_may_listen(tmp_path, options):
    async with running_server(tmp_path / "journal", **options) as server:
        status, _, _ = await asyncio.to_thread(upload, server.port, "tight", ALLOWANCE)
        frames, code = await speak(server.url, b"", start={"targets": []}, headers=TIGHT)
        async with connect(server.url, additional_headers=TIGHT) as ws:
            await ws.send(json.dumps({"type": "join", "room": "r", "languages": []}))
            hello = json.loads(await ws.recv())
    assert status == 200
    assert code == 4029 and frames[-1]["code"] == "audio_quota_exceeded"
    assert "retry in" in frames[-1]["message"]
    assert hello["type"] == "ready"
