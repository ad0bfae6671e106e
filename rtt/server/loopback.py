"""Clients that survive the server closing on them, from chosen loopback addresses.

For the tests and the fault and load scripts. Each client connects from its own address (127.0.0.2, 127.0.0.3, ...) so that the
per-address limits see distinct clients; they record every frame and the close code
instead of raising, so a test can assert on what a client saw when the server ended it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pipeline.fakes import fake_config, fake_registry

from .app import RttServer, ServerConfig

__all__ = [
    "commits",
    "connect_from",
    "fake_server",
    "listen_until_closed",
    "metric",
    "raw_http",
    "speak_until_closed",
]


def connect_from(url: str, address: str = "127.0.0.2", **kw):
    return connect(url, local_addr=(address, 0), max_size=None, **kw)


async def speak_until_closed(
    url, audio: bytes, *, start: dict, address="127.0.0.2", speed=4.0, stop=True, frame_seconds=0.1
):
    """Stream `audio` (then `stop`, if asked); every frame received and the close code."""
    frames: list[dict] = []
    async with connect_from(url, address) as ws:
        await ws.send(json.dumps({"type": "start", "rate": 16000, **start}))

        async def send():
            step = int(frame_seconds * 16000) * 2
            try:
                for i in range(0, len(audio), step):
                    await ws.send(audio[i : i + step])
                    await asyncio.sleep(frame_seconds / speed)
                if stop:
                    await ws.send(json.dumps({"type": "stop"}))
            except ConnectionClosed:
                pass

        sender = asyncio.create_task(send())
        try:
            async for text in ws:
                frames.append(json.loads(text))
        except ConnectionClosed:
            pass
        sender.cancel()
    return frames, ws.close_code


async def listen_until_closed(url, join: dict, *, address="127.0.0.2", ready=None):
    """Join and read until the server closes; every frame and the close code."""
    frames: list[dict] = []
    async with connect_from(url, address) as ws:
        await ws.send(json.dumps({"type": "join", **join}))
        try:
            async for text in ws:
                frames.append(json.loads(text))
                if ready is not None and frames[0]["type"] == "ready":
                    ready.set()
        except ConnectionClosed:
            pass
    return frames, ws.close_code


def raw_http(port: int, head: str) -> tuple[int, str]:
    """Send a raw HTTP request head; the status code and the body (read up to its
    Content-Length, or until the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        data = b""
        while chunk := s.recv(65536):  # the server closes after refusing a handshake
            data += chunk
            if b"\r\n\r\n" not in data:
                continue
            if data.startswith(b"HTTP/1.1 101"):
                break  # accepted: a websocket now, not an HTTP answer
            head_part, body = data.split(b"\r\n\r\n", 1)
            length = _content_length(head_part)
            if length is not None and len(body) >= length:
                break  # a whole answer on a connection kept alive
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def metric(server, name: str, **labels) -> float:
    return server.metrics.registry.get_sample_value(name, labels or None) or 0.0


def commits(frames, channel=None):
    """(seq, text) of every commit (source_commit, target_commit), optionally of one channel.
    A `target_append` does not count: its words are in its sentence's target_commit."""
    return [
        (f["seq"], f["text"])
        for f in frames
        if f["type"] in ("source_commit", "target_commit")
        and (channel is None or f["channel"] == channel)
    ]


def fake_server(journal: Path, registry=None, **options) -> RttServer:
    """A server on loopback port 0 whose rooms run the real composition on fake engines
    (`pipeline.fakes`): the fault and load scripts' server, no model loaded."""
    pipeline = fake_config(Path(journal).parent / f"{Path(journal).name}-models")
    config = ServerConfig(journal=Path(journal), port=0, pipeline=pipeline, **options)
    return RttServer(config, registry or fake_registry())
