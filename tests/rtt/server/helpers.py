"""Shared pieces of the server tests: a fake stage kit, a server on port 0, raw clients.

The fake kit stands in for the models where the protocol, not the model, is the
point: its "ASR" turns every 0.5 s of audio into one word and ends an utterance
every 4 words; its "translator" is the real `TranslateStage` on a fake engine
that prefixes the language. Tests that need the real models use `EngineKit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

from pipeline.config import PipelineConfig
from pipeline.events import (
    AudioChunk,
    End,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    Word,
)
from pipeline.fanout import LanguageFanoutStage
from pipeline.mt.stage import TranslateStage
from pipeline.mt.translator import Translation
from rtt.server import Limits, RttServer, ServerConfig

__all__ = ["FakeKit", "listen_frames", "pcm", "running_server", "speak_frames"]


class FakeASRStage:
    WORD = 0.5

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.samples = 0
        self.words = 0
        self.utterance = 1
        self.open = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def process(self, event):
        if isinstance(event, AudioChunk):
            self.samples += len(event.samples)
            while self.samples / 16000 >= (self.words + 1) * self.WORD:
                for out in self._word():
                    yield out
            return
        if isinstance(event, End) and self.open:
            yield SpeechEnd(
                stream=self.stream, utterance=self.utterance, end=self.words * self.WORD
            )
        yield event

    def _word(self):
        t = self.words * self.WORD
        self.words += 1
        if not self.open:
            self.open = True
            yield SpeechStart(stream=self.stream, utterance=self.utterance, start=t)
        last = self.words % 4 == 0
        text = f"w{self.words}" + ("." if last else "")
        yield SourcePartial(
            stream=self.stream, utterance=self.utterance, lang="en", text=text + " …"
        )
        word = Word(text, t, t + self.WORD)
        yield SourceCommit(
            stream=self.stream,
            utterance=self.utterance,
            lang="en",
            text=text,
            words=(word,),
            start=t,
            end=t + self.WORD,
        )
        if last:
            yield SpeechEnd(stream=self.stream, utterance=self.utterance, end=t + self.WORD)
            self.utterance += 1
            self.open = False


class FakeMTEngine:
    name = "fake-mt"

    async def translate(self, request):
        await asyncio.sleep(0)
        return Translation(f"[{request.target_lang}] {request.source}", tokens=1, steps=1)


class FakeKit:
    def __init__(self) -> None:
        self.engine = FakeMTEngine()
        self.pipelines = 0

    def load(self, config: PipelineConfig) -> None:
        pass

    def stages(self, config: PipelineConfig, clock):
        self.pipelines += 1

        def translator(lang):
            return TranslateStage(
                self.engine, dataclasses.replace(config.mt, targets=(lang,)), clock=clock
            )

        fanout = LanguageFanoutStage(translator, config.mt.targets)
        return [FakeASRStage(config.stream), fanout], fanout


@contextlib.asynccontextmanager
async def running_server(journal: Path, kit=None, **options):
    limits = {k: options.pop(k) for k in list(options) if k in Limits.__dataclass_fields__}
    config = ServerConfig(journal=journal, port=0, limits=Limits(**limits), **options)
    async with RttServer(config, kit or FakeKit()) as server:
        server.url = f"ws://127.0.0.1:{server.port}/ws"
        yield server


def pcm(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()


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


def commits(frames, channel=None):
    """(seq, text) of every commit, optionally of one channel."""
    return [
        (f["seq"], f["text"])
        for f in frames
        if f["type"] in ("source_commit", "target_commit")
        and (channel is None or f["channel"] == channel)
    ]


def test_fake_kit_makes_a_fanout_stage():
    stages, fanout = FakeKit().stages(PipelineConfig(), clock=None)
    assert stages[-1] is fanout and fanout.languages == ("de",)
