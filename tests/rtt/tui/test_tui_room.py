"""`rtt live --connect`: the TUI as a listener of a room, against a fake server speaking docs/protocol.md."""

from __future__ import annotations

import json

from websockets.asyncio.server import serve

from rtt.tui import LiveApp
from rtt.tui.room import RoomSession
from rtt.tui.screens import ErrorScreen
from tests.rtt.tui.helpers import wait_for

SIZE = (120, 32)


def frame(seq: int, channel: str, **event) -> str:
    base = {"stream": "keynote", "emitted": 1.0 + seq}
    return json.dumps({**base, **event, "seq": seq, "channel": channel})


FIRST = [
    frame(1, "source", type="speech_start", utterance=1, start=0.5),
    frame(
        2,
        "source",
        type="source_commit",
        utterance=1,
        lang="en",
        text="Welcome to the workshop.",
        words=[],
        start=0.5,
        end=2.0,
    ),
    frame(3, "source", type="speech_end", utterance=1, end=2.1),
    frame(
        1,
        "de",
        type="target_commit",
        utterance=1,
        lang="de",
        sentence=0,
        text="Willkommen zum Workshop.",
        start=0.5,
        end=2.0,
    ),
    frame(4, "source", type="source_partial", utterance=2, lang="en", text="The first"),
]
REPLAY = [  # what the journal holds after the seqs the client already has
    frame(
        5,
        "source",
        type="source_commit",
        utterance=2,
        lang="en",
        text="The first session starts at ten.",
        words=[],
        start=3.0,
        end=5.0,
    ),
    frame(
        2,
        "de",
        type="target_commit",
        utterance=2,
        lang="de",
        sentence=1,
        text="Die erste Session beginnt um zehn.",
        start=3.0,
        end=5.0,
    ),
]


async def test_room_captions_survive_a_dropped_connection():
    joins: list[dict] = []

    async def handler(ws):
        join = json.loads(await ws.recv())
        joins.append(join)
        await ws.send(
            json.dumps(
                {
                    "type": "ready",
                    "version": 1,
                    "role": "listener",
                    "room": "keynote",
                    "stream": "keynote",
                    "channels": {"source": 0, "de": 0},
                }
            )
        )
        if len(joins) == 1:
            for text in FIRST:
                await ws.send(text)
            await ws.close(1011)  # the server drops us mid-utterance
            return
        for text in REPLAY:
            await ws.send(text)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        session = RoomSession(f"ws://127.0.0.1:{port}/ws", "keynote", ("de",), backoff=0.05)
        app = LiveApp(session, targets=("de",), source_lang="en")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "zehn" in app.panes["de"].shown_text, timeout=10)
            assert (
                app.source_pane.shown_text
                == "Welcome to the workshop. The first session starts at ten."
            )
            assert (
                app.panes["de"].shown_text
                == "Willkommen zum Workshop. Die erste Session beginnt um zehn."
            )
            assert session.reconnects == 1 and "connected" in session.stats().input
            await pilot.press("q")
    assert joins[0] == {
        "type": "join",
        "version": 1,
        "room": "keynote",
        "languages": ["de"],
        "source": True,
    }
    assert joins[1]["since"] == {
        "source": 2,
        "de": 1,
    }  # the last commits (speech events and partials are not durable)


async def test_adding_a_language_joins_again_with_since():
    joins: list[dict] = []

    async def handler(ws):
        joins.append(json.loads(await ws.recv()))
        await ws.send(
            json.dumps(
                {
                    "type": "ready",
                    "version": 1,
                    "role": "listener",
                    "room": "r",
                    "stream": "r",
                    "channels": {},
                }
            )
        )
        if len(joins) == 1:
            await ws.send(FIRST[1])
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        session = RoomSession(f"ws://127.0.0.1:{port}/ws", "r", ("de",), backoff=0.05)
        app = LiveApp(session, targets=("de",), source_lang="en")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.source_pane.shown_text, timeout=10)
            app.set_targets(("de", "es"))
            await wait_for(pilot, lambda: len(joins) == 2, timeout=10)
            assert joins[1]["languages"] == ["de", "es"] and joins[1]["since"] == {"source": 2}
            assert session.reconnects == 0


async def test_unreachable_server_is_an_error_screen():
    async with serve(lambda ws: None, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
    session = RoomSession(
        f"ws://127.0.0.1:{port}/ws", "keynote", ("de",)
    )  # nothing listens there now
    app = LiveApp(session, targets=("de",))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), timeout=10)
        assert app.screen.query_one("#error-title").content == "Cannot reach the server"
        assert "cannot connect to ws://127.0.0.1" in str(
            app.screen.query_one("#error-message").content
        )


async def test_a_refused_join_is_an_error_screen():
    async def handler(ws):
        await ws.recv()
        await ws.send(
            json.dumps(
                {
                    "type": "error",
                    "stream": "",
                    "utterance": 0,
                    "emitted": None,
                    "code": "room_full",
                    "message": "the room has 100 listeners",
                }
            )
        )
        await ws.close(1013)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        app = LiveApp(RoomSession(f"ws://127.0.0.1:{port}/ws", "k", ("de",)), targets=("de",))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), timeout=10)
            assert "room_full" in str(app.screen.query_one("#error-message").content)
