"""Shared pieces of the server tests: a server on port 0 on fake engines, raw clients.

The server runs the real composition every front end uses (`pipeline.factory`:
VAD, streaming ASR, the translator) on a fake engine registry
(`pipeline.fakes`): the "ASR" hears one word per half second of speech (every
fourth word ends a sentence), the "translator" prefixes the language. Tests that
need the real models pass the shared registry and a real config.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

from pipeline.config import PipelineConfig
from pipeline.fakes import fake_registry, voiced
from rtt.server import Limits, RttServer, ServerConfig
from rtt.server.loopback import commits
from tests.support import fake_config

__all__ = ["commits", "listen_frames", "pcm", "running_server", "speak_frames", "speech"]


@contextlib.asynccontextmanager
async def running_server(journal: Path, registry=None, *, translator=None, **options):
    """A server on loopback port 0; on fake engines and fake model folders unless given."""
    limits = {k: options.pop(k) for k in list(options) if k in Limits.__dataclass_fields__}
    if registry is None:
        models = Path(journal).parent / f"{Path(journal).name}-models"
        options["pipeline"] = fake_config(models, options.get("pipeline") or PipelineConfig())
    config = ServerConfig(journal=journal, port=0, limits=Limits(**limits), **options)
    owned = registry is None
    registry = registry or fake_registry(translator)
    try:
        async with RttServer(config, registry) as server:
            server.url = f"ws://127.0.0.1:{server.port}/ws"
            yield server
    finally:
        if owned:
            await asyncio.to_thread(registry.close)


def pcm(seconds: float, rate: int = 16000) -> bytes:
    """`seconds` of speech (to the VAD) as 16-bit PCM."""
    return voiced(seconds, rate).tobytes()


def speech(utterances: int, seconds: float = 2.0, pause: float = 1.0, rate: int = 16000) -> bytes:
    """Utterances of `seconds` of speech, each followed by `pause` seconds of silence."""
    silence = np.zeros(int(pause * rate), "<i2")
    return b"".join(voiced(seconds, rate).tobytes() + silence.tobytes() for _ in range(utterances))


async def speak_frames(
    url, audio: bytes, *, start: dict, frame_seconds=0.1, rate=16000, speed=4.0, headers=None
):
    """Send `start`, the audio paced at `speed` × real time, `stop`; return every frame received."""
    frames = []
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "start", "rate": rate, **start}))
        frames.append(json.loads(await ws.recv()))
        step = int(frame_seconds * rate) * 2

        async def send():
            for i in range(0, len(audio), step):
                await ws.send(audio[i : i + step])
                await asyncio.sleep(frame_seconds / speed)
            await ws.send(json.dumps({"type": "stop"}))

        sender = asyncio.create_task(send())
        async for text in ws:
            frames.append(json.loads(text))
        await sender
    return frames


async def listen_frames(url, join: dict, *, until_end=True, limit=None, delay=0.0, ready=None):
    """Join and collect frames until `end` on every channel (or `limit` frames); `delay` slows reading."""
    frames = []
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "join", **join}))
        hello = json.loads(await ws.recv())
        frames.append(hello)
        if ready is not None:
            ready.set()
        if hello["type"] != "ready":
            return frames
        ended = set()
        async for text in ws:
            frame = json.loads(text)
            frames.append(frame)
            if frame["type"] == "end":
                ended.add(frame["channel"])
            if until_end and ended >= set(hello["channels"]):
                break
            if limit is not None and len(frames) > limit:
                break
            if delay:
                await asyncio.sleep(delay)
    return frames
