"""target_append in rooms: journaled with a seq, replayed on `since`, never taken for a final.

Fake engines (the model is not the point): the fake translator's re-translations of a
growing sentence agree on their first words, so they commit before the sentence ends.
"""

from __future__ import annotations

import asyncio

from pipeline.events import PUBLIC_EVENTS, from_json
from rtt.server.protocol import DURABLE_TYPES
from tests.rtt.server.helpers import commits, listen_frames, pcm, running_server, speak_frames


def appended(frames, lang):
    """The appended words per sentence, reassembled the way a reader does (offsets)."""
    words: dict[int, list[str]] = {}
    for f in frames:
        if f["type"] == "target_append" and f["lang"] == lang:
            held = words.setdefault(f["sentence"], [])
            if f["offset"] == len(held):
                held += f["text"].split()
    return words


async def test_appends_are_journaled_replayed_and_begin_their_final(tmp_path):
    async with running_server(tmp_path) as server:
        listener = asyncio.create_task(
            listen_frames(server.url, {"room": "r", "languages": ["de"]})
        )
        await asyncio.sleep(0.1)
        await speak_frames(server.url, pcm(6.0), speed=4, start={"room": "r", "targets": ["de"]})
        heard = await asyncio.wait_for(listener, 30)
        appends = [f for f in heard if f["type"] == "target_append"]
        assert appends and all(f["channel"] == "de" and isinstance(f["seq"], int) for f in appends)
        finals = {f["sentence"]: f["text"] for f in heard if f["type"] == "target_commit"}
        for sentence, words in appended(heard, "de").items():
            assert finals[sentence].split()[: len(words)] == words  # the final begins with them
        # a listener that comes back with `since` just before the first append gets it replayed
        first = appends[0]["seq"]
        again = await asyncio.wait_for(
            listen_frames(
                server.url, {"room": "r", "languages": ["de"], "source": False, "since": first - 1}
            ),
            30,
        )
    replayed = [f for f in again if f.get("seq") is not None]
    assert replayed[0]["type"] == "target_append" and replayed[0]["seq"] == first
    durable = [
        f["seq"]
        for f in heard
        if f.get("channel") == "de" and f["type"] in DURABLE_TYPES and f["seq"] >= first
    ]
    assert [f["seq"] for f in replayed] == durable


async def test_an_old_client_that_skips_unknown_types_still_gets_whole_sentences(
    tmp_path, monkeypatch
):
    async with running_server(tmp_path) as server:
        frames = await speak_frames(
            server.url, pcm(6.0), speed=4, start={"room": "o", "targets": ["de"]}
        )
    assert any(f["type"] == "target_append" for f in frames)
    old = {k: v for k, v in PUBLIC_EVENTS.items() if k != "target_append"}
    monkeypatch.setattr("pipeline.events.PUBLIC_EVENTS", old)  # a reader of the old vocabulary
    fields = [{k: v for k, v in f.items() if k not in ("seq", "channel")} for f in frames[1:]]
    events = [from_json(f) for f in fields]
    assert all(e is None for f, e in zip(fields, events) if f["type"] == "target_append")
    assert [text for _, text in commits(frames, "de")][-1] == "[de] w9 w10 w11 w12."
