"""A room's pipeline is the factory's real composition, steered in band (fake engines).

The live bug this guards: in a room, source captions waited behind slow
translations (the room's translator could not overlap its work with newer input).
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from pipeline.fakes import FakeTranslator
from tests.rtt.server.helpers import running_server, speak_frames, speech


async def _listen(url, join, frames, seen_later_source: asyncio.Event, utterance: int):
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "join", **join}))
        hello = json.loads(await ws.recv())
        ended = set()
        async for text in ws:
            frame = json.loads(text)
            frames.append(frame)
            if frame["type"] == "source_commit" and frame["utterance"] >= utterance:
                seen_later_source.set()
            if frame["type"] == "end":
                ended.add(frame["channel"])
            if ended >= set(hello["channels"]):
                return


async def test_source_captions_do_not_wait_for_a_slow_translator(tmp_path):
    translator = FakeTranslator()
    translator.hold()  # every translation waits until the test releases it
    async with running_server(tmp_path, translator=translator) as server:
        frames: list[dict] = []
        later = asyncio.Event()
        join = {"room": "r", "languages": ["de"]}
        listener = asyncio.create_task(_listen(server.url, join, frames, later, utterance=3))
        await asyncio.sleep(0.1)
        speaker = asyncio.create_task(
            speak_frames(server.url, speech(3), speed=4, start={"room": "r", "targets": ["de"]})
        )
        try:
            await asyncio.wait_for(later.wait(), 30)  # guard only: fails on the old code
        finally:
            before = list(frames)
            translator.release()
        await asyncio.wait_for(asyncio.gather(speaker, listener), 30)
    assert translator.requests, "the translator was asked while it held"
    sources = [f for f in before if f["type"] == "source_commit"]
    assert {f["utterance"] for f in sources} == {1, 2, 3}
    assert not [f for f in before if f["type"] in ("target_partial", "target_commit")]
    finals = [f["text"] for f in frames if f["type"] == "target_commit"]
    assert finals.count("[de] w1 w2 w3 w4.") == 3  # every utterance's first sentence, after all


async def test_a_listener_language_reaches_the_running_translator_in_band(tmp_path):
    async with running_server(tmp_path) as server:
        frames: list[dict] = []
        first = asyncio.Event()
        join = {"room": "r", "languages": ["de"]}
        de = asyncio.create_task(_listen(server.url, join, frames, first, utterance=1))
        await asyncio.sleep(0.1)
        speaker = asyncio.create_task(
            speak_frames(server.url, speech(3), speed=4, start={"room": "r", "targets": ["de"]})
        )
        await asyncio.wait_for(first.wait(), 30)  # the pipeline runs: now a Spanish listener
        es_frames: list[dict] = []
        es = asyncio.create_task(
            _listen(server.url, {"room": "r", "languages": ["es"]}, es_frames, asyncio.Event(), 9)
        )
        await asyncio.wait_for(asyncio.gather(speaker, de, es), 30)
    es_finals = [(f["utterance"], f["text"]) for f in es_frames if f["type"] == "target_commit"]
    # joined while the first utterance was spoken: its first sentence still arrives whole
    assert (1, "[es] w1 w2 w3 w4.") in es_finals and es_finals.count(es_finals[0]) == 1
