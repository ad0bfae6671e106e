"""Graceful shutdown: each room's final pass, its commits and `end` on every channel, then 1001."""

from __future__ import annotations

import asyncio
import json

from rtt.server.loopback import listen_until_closed, speak_until_closed
from tests.rtt.server.helpers import commits, pcm, running_server


async def test_close_flushes_every_room_then_goes_away(tmp_path):
    async with running_server(tmp_path) as server:
        ready = asyncio.Event()
        listener = asyncio.create_task(
            listen_until_closed(
                server.url, {"room": "talk", "languages": ["de"]}, address="127.0.0.2", ready=ready
            )
        )
        await asyncio.wait_for(ready.wait(), 5)
        speaker = asyncio.create_task(  # 3 s of speech and no `stop`: mid-sentence at shutdown
            speak_until_closed(
                server.url,
                pcm(3.0),
                start={"room": "talk", "targets": ["de"]},
                address="127.0.0.3",
                stop=False,
            )
        )
        await asyncio.sleep(1.5)
        await server.close()  # what SIGTERM and SIGINT do, within shutdown_timeout
        (spoken, speaker_code), (heard, listener_code) = await asyncio.gather(speaker, listener)
    assert speaker_code == 1001 and listener_code == 1001
    source = " ".join(t for _, t in commits(heard, "source")).split()
    assert source == ["w1", "w2", "w3", "w4.", "w5", "w6"]
    assert [t for _, t in commits(heard, "de")] == ["[de] w1 w2 w3 w4.", "[de] w5 w6"]
    assert {f["channel"] for f in heard if f["type"] == "end"} == {"source", "de"}
    assert commits(spoken, "de") == commits(heard, "de")
    for channel in ("source", "de"):
        lines = (tmp_path / "rooms" / "talk" / f"{channel}.jsonl").read_text().splitlines()
        assert json.loads(lines[-1])["type"] == "end"
