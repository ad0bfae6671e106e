"""`rtt client --listen` across a server that goes away: it keeps trying, says so, misses nothing."""

from __future__ import annotations

import asyncio
import io
import json

from websockets.asyncio.server import serve

from rtt.cli import main
from rtt.client import listen
from rtt.render import JsonlView
from rtt.server.listener import Backoff


def frame(seq: int, channel: str, kind: str = "target_commit", **fields) -> str:
    base = {"type": kind, "stream": "r", "utterance": 1, "emitted": 1.0}
    if kind == "target_commit":
        base |= {"lang": "de", "sentence": seq, "text": f"t{seq}", "start": 0.0, "end": 1.0}
    return json.dumps({**base, **fields, "seq": seq, "channel": channel, "journal_epoch": "e1"})


async def test_listen_keeps_reconnecting_through_a_long_restart():
    joins: list[dict] = []
    died = asyncio.Event()

    async def handler(ws):
        joins.append(json.loads(await ws.recv()))
        ready = {"type": "ready", "channels": {"de": 0}, "journal_epoch": {"de": "e1"}}
        await ws.send(json.dumps(ready))
        if len(joins) == 1:
            await ws.send(frame(1, "de"))
            await ws.close(1011)  # the server dies
            died.set()
            return
        await ws.send(frame(2, "de"))
        await ws.send(frame(3, "de", kind="end"))

    first = await serve(handler, "127.0.0.1", 0)
    port = first.sockets[0].getsockname()[1]
    said: list[str] = []
    out = io.StringIO()
    client = asyncio.create_task(
        listen(
            f"ws://127.0.0.1:{port}/ws",
            {"type": "join", "room": "r", "languages": ["de"], "source": False},
            JsonlView(out),
            backoff=Backoff(base=0.2, cap=0.3),
            say=said.append,
        )
    )
    await asyncio.wait_for(died.wait(), 5)
    first.close()
    await first.wait_closed()
    await asyncio.sleep(1.5)  # down for a while: the client keeps trying
    async with serve(handler, "127.0.0.1", port):
        assert await asyncio.wait_for(client, 10) == 0
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == [1, 2, 3]
    assert joins[-1]["since"] == {"de": 1} and joins[-1]["journal_epoch"] == {"de": "e1"}
    assert any("retrying in" in line for line in said) and len(said) >= 3


async def test_listen_gives_up_after_retry_for():
    async def handler(ws):
        await ws.recv()
        await ws.send(json.dumps({"type": "ready", "channels": {"de": 0}}))
        await ws.close(1011)

    server = await serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with serve(handler, "127.0.0.1", port):
        argv = ["client", "--listen", "--room", "r", "--to", "de", "--retry-for", "0.5"]
        argv += ["--url", f"ws://127.0.0.1:{port}/ws"]
        status = await asyncio.to_thread(main, argv)
    assert status == 2  # an error: gave up reconnecting


def test_a_token_on_the_command_line_is_warned_about(capsys, monkeypatch):
    monkeypatch.setenv("RTT_TOKEN", "from-env")
    main(["client", "--listen", "--room", "r", "--token", "T", "--url", "ws://127.0.0.1:1/ws"])
    assert "visible to other users" in capsys.readouterr().err
