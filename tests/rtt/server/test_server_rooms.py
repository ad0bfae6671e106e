"""Rooms on the real small models (whisper-tiny.en, SmolLM2-135M) through the shared registry.

One speaker streams a sample file with `rtt client`'s code; 20 listeners in 3
languages, a slow listener and one that drops and comes back with `since` all
receive the same commits, and after a server restart the journal serves the
rest of the stream to a listener that asks with `since`.
"""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from websockets.asyncio.client import connect

from pipeline.audio import open_source
from pipeline.config import ASRConfig, ComputeConfig, MTConfig, PipelineConfig, SourceConfig
from pipeline.factory import load_engines
from rtt.client import ScaledClock, speak
from rtt.corpus import corpus_item
from rtt.render import JsonlView
from tests.conftest import model_path
from tests.rtt.server.helpers import commits, listen_frames, running_server

pytestmark = pytest.mark.models
LANGS = ("de", "es", "fr")


@pytest.fixture(scope="module")
def room_config() -> PipelineConfig:
    model_path("whisper-tiny.en")
    model_path("smollm2-135m")
    return PipelineConfig(
        source=SourceConfig(realtime=True),
        asr=ASRConfig(model="whisper-tiny.en", language="en"),
        mt=MTConfig(model="smollm2-135m", fast_model=None, draft_model=None, targets=()),
        compute=ComputeConfig(device="cpu"),
    )


async def stream_file(url: str, room: str, targets: list[str], speed: float = 3.0) -> list[dict]:
    """The file-streaming speaker of `rtt client`, its printed JSONL parsed back."""
    item = corpus_item("short-workshop-en")
    source = open_source(str(item.audio), stream="client", config=SourceConfig(chunk_seconds=0.1))
    out = io.StringIO()
    start = {"type": "start", "room": room, "targets": targets, "rate": 16000}
    status = await speak(
        url, start, source.chunks(ScaledClock(speed)), JsonlView(out), handle_sigint=False
    )
    assert status == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def drop_and_return(url: str, join: dict) -> list[dict]:
    """Leave after the first translation commit, come back with since, read to the end."""
    first = []
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "join", **join}))
        async for text in ws:
            frame = json.loads(text)
            first.append(frame)
            if frame["type"] == "target_commit":
                break
    since = {}
    for frame in first:
        if frame["type"] in ("source_commit", "target_commit"):
            since[frame["channel"]] = frame["seq"]
    await asyncio.sleep(1.0)  # commits go by meanwhile
    return first + await listen_frames(url, {**join, "since": since})


@pytest.fixture(scope="module")
async def room_run(room_config, shared_registry, tmp_path_factory):
    journal = tmp_path_factory.mktemp("journal")
    await asyncio.to_thread(load_engines, shared_registry, room_config)
    async with running_server(journal, shared_registry, pipeline=room_config, outbox=6) as server:
        url = server.url
        listeners = [
            asyncio.create_task(listen_frames(url, {"room": "conf", "languages": [LANGS[i % 3]]}))
            for i in range(20)
        ]
        slow = asyncio.create_task(
            listen_frames(url, {"room": "conf", "languages": ["de"]}, delay=0.15)
        )
        dropper = asyncio.create_task(drop_and_return(url, {"room": "conf", "languages": ["es"]}))
        await asyncio.sleep(0.5)
        spoken = await stream_file(url, "conf", ["de"])
        heard = await asyncio.wait_for(asyncio.gather(*listeners, slow, dropper), 120)
    return journal, room_config, spoken, heard


def by_language(heard):
    groups = {lang: [] for lang in LANGS}
    for frames in heard[:20]:
        (lang,) = set(frames[0]["channels"]) - {"source"}
        groups[lang].append(frames)
    return groups


def test_twenty_listeners_get_identical_commits_per_language(room_run):
    _, _, spoken, heard = room_run
    groups = by_language(heard)
    assert [len(g) for g in groups.values()] == [7, 7, 6]
    source = commits(spoken, "source")
    assert source and all(commits(frames, "source") == source for frames in heard[:20])
    for lang, group in groups.items():
        expected = commits(group[0], lang)
        assert expected, f"no {lang} commits"
        assert all(commits(frames, lang) == expected for frames in group), lang
        seqs = [seq for seq, _ in expected]
        assert seqs == sorted(set(seqs))
    assert commits(spoken, "de") == commits(groups["de"][0], "de")


def test_a_slow_listener_gets_every_commit(room_run):
    _, _, _, heard = room_run
    slow, reference = heard[20], by_language(heard)["de"][0]
    assert commits(slow, "de") == commits(reference, "de")
    assert commits(slow, "source") == commits(reference, "source")


def test_a_listener_coming_back_with_since_misses_nothing(room_run):
    _, _, _, heard = room_run
    dropper, reference = heard[21], by_language(heard)["es"][0]
    assert commits(dropper, "es") == commits(reference, "es")
    assert commits(dropper, "source") == commits(reference, "source")


async def test_since_works_across_a_server_restart(room_run, shared_registry):
    journal, config, _, heard = room_run
    reference = by_language(heard)["fr"][0]
    full = commits(reference, "fr")
    middle = full[len(full) // 2 - 1][0] if len(full) > 1 else 0
    async with running_server(journal, shared_registry, pipeline=config) as server:
        again = await asyncio.wait_for(
            listen_frames(
                server.url, {"room": "conf", "languages": ["fr"], "source": False, "since": middle}
            ),
            30,
        )
    assert commits(again, "fr") == [c for c in full if c[0] > middle]
    assert again[-1]["type"] == "end"
