"""`rtt live --connect`: the room rejoins with the journal epoch, and a reset journal is caught up."""

from __future__ import annotations

import json

from websockets.asyncio.server import serve

from rtt.tui import LiveApp
from rtt.tui.room import RoomSession
from tests.rtt.tui.helpers import wait_for
from tests.rtt.tui.test_tui_room import SIZE


def commit(seq: int, text: str, epoch: str) -> str:
    return json.dumps(
        {
            "type": "target_commit",
            "stream": "k",
            "utterance": seq,
            "emitted": 1.0,
            "lang": "de",
            "sentence": seq,
            "text": text,
            "start": 0.0,
            "end": 1.0,
            "seq": seq,
            "channel": "de",
            "journal_epoch": epoch,
        }
    )


async def test_a_new_journal_on_the_server_is_caught_up_from_its_start():
    joins: list[dict] = []

    async def handler(ws):
        joins.append(json.loads(await ws.recv()))
        if len(joins) == 1:
            await ws.send(
                json.dumps({"type": "ready", "channels": {"de": 7}, "journal_epoch": {"de": "old"}})
            )
            await ws.send(commit(7, "Alt.", "old"))
            await ws.close(1011)  # the server dies and comes back without its journal
            return
        ready = {
            "type": "ready",
            "channels": {"de": 2},
            "journal_epoch": {"de": "new"},
            "reset": ["de"],
        }
        await ws.send(json.dumps(ready))
        for seq, text in ((1, "Neu eins."), (2, "Neu zwei.")):  # seqs below the old since
            await ws.send(commit(seq, text, "new"))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        session = RoomSession(f"ws://127.0.0.1:{port}/ws", "k", ("de",), backoff=0.05)
        app = LiveApp(session, targets=("de",), source_lang="en")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "Neu zwei." in app.panes["de"].shown_text, timeout=10)
            assert app.panes["de"].shown_text == "Alt. Neu eins. Neu zwei."
            assert "new journal" in session.stats().input
            await pilot.press("q")
    assert joins[1]["since"] == {"de": 7} and joins[1]["journal_epoch"] == {"de": "old"}
    assert session.since == {"de": 2}
