"""What the server's HTTP layer guarantees on its ASGI stack (uvicorn + Starlette).

A request head that never completes is cut (slowloris), a message that inflates
past `max_message` is closed with 1009 like a plain oversized one, the base URL
takes websockets too, and `rtt client` turns a base URL into the websocket URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import tempfile
import time
import zlib

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtt.client import websocket_url
from rtt.server import Close
from rtt.server.loopback import raw_http
from tests.rtt.server.helpers import running_server


def test_a_base_url_means_the_websocket_path():
    assert websocket_url("ws://host:8765") == "ws://host:8765/ws"
    assert websocket_url("ws://host:8765/") == "ws://host:8765/ws"
    assert websocket_url("http://host:8765?token=t") == "ws://host:8765/ws?token=t"
    assert websocket_url("wss://host/rtt/ws") == "wss://host/rtt/ws"


async def test_the_base_url_takes_websockets_too(tmp_path):
    async with running_server(tmp_path) as server:
        async with connect(f"ws://127.0.0.1:{server.port}") as ws:
            await ws.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
            assert json.loads(await ws.recv())["type"] == "ready"


async def test_a_slow_request_head_is_cut(tmp_path):
    async with running_server(tmp_path, handshake_timeout=0.5) as server:

        def slowloris() -> float:
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
                for _ in range(40):  # one header line every 0.1 s, never the end of the head
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        break
                    time.sleep(0.1)
                    s.settimeout(0.01)
                    try:
                        if s.recv(1) == b"":
                            break
                    except TimeoutError:
                        pass
            return time.monotonic() - t0

        assert await asyncio.to_thread(slowloris) < 2.5


async def test_a_deflate_bomb_is_closed_with_1009(tmp_path):
    async with running_server(tmp_path, max_message=64 * 1024) as server:
        async with connect(server.url, compression="deflate", max_size=None) as ws:
            await ws.send(json.dumps({"type": "start", "targets": []}))
            await ws.recv()
            bomb = b"\x00" * (8 * 1024 * 1024)  # compresses to a few KiB
            assert len(zlib.compress(bomb)) < 64 * 1024
            await ws.send(bomb)
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.recv()
        assert ws.close_code == Close.TOO_BIG


def _temp_files() -> set[str]:
    """Files this process holds open under the temporary folder (deleted ones too)."""
    tmp = tempfile.gettempdir()
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(tmp) or target.startswith("/memfd"):
                found.add(target)
    return found


async def test_an_upload_cut_halfway_leaves_nothing_behind(tmp_path):
    async with running_server(tmp_path) as server:
        before = _temp_files()
        head = (
            "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000000\r\n\r\n"
            '--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        )

        def cut_upload() -> set[str]:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.sendall(head.encode())
                for _ in range(24):  # 3 MiB: past the 1 MiB kept in memory
                    s.sendall(b"\x01" * 131072)
                for _ in range(100):  # the server has spooled it to an (anonymous) file
                    if _temp_files() - before:
                        break
                    time.sleep(0.05)
                during = _temp_files() - before
                s.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
            return during

        during = await asyncio.to_thread(cut_upload)
        assert during  # the upload was on disk while it came in
        for _ in range(100):
            if _temp_files() <= before:
                break
            await asyncio.sleep(0.05)
        assert _temp_files() <= before


async def test_a_foreign_page_cannot_use_the_api(tmp_path):
    async with running_server(tmp_path) as server:
        port = server.port
        head = "GET /v1/models HTTP/1.1\nHost: 127.0.0.1\n{origin}"
        status, body = await asyncio.to_thread(
            raw_http, port, head.format(origin="Origin: http://evil.example\n")
        )
        assert status == 403 and json.loads(body)["error"]["code"] == "origin_not_allowed"
        status, body = await asyncio.to_thread(
            raw_http, port, head.format(origin=f"Origin: http://127.0.0.1:{port}\n")
        )
        assert status == 200 and json.loads(body)["data"][0]["id"] == "whisper-1"


async def test_a_key_over_its_streams_is_refused_at_the_handshake(tmp_path):
    from websockets.exceptions import InvalidStatus

    from rtt.server.quotas import ApiLimits

    bearer = {"Authorization": "Bearer k"}
    async with running_server(tmp_path, tokens=("k",), api=ApiLimits(streams=1)) as server:
        async with connect(server.url, additional_headers=bearer) as first:
            await first.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
            assert json.loads(await first.recv())["type"] == "ready"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(server.url, additional_headers=bearer):
                    pass
            assert refused.value.response.status_code == 429
            assert int(refused.value.response.headers["Retry-After"]) >= 1
        for _ in range(50):  # the slot is given back when the first session ends
            try:
                async with connect(server.url, additional_headers=bearer):
                    break
            except InvalidStatus:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the key's stream slot was never given back")


async def test_keys_are_never_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_server(tmp_path, token="s3cret-key") as server:
        async with connect(server.url + "?token=s3cret-key") as ws:
            await ws.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
            await ws.recv()
        for path in ("/v1/models?token=wrong-key", "/metrics?token=s3cret-key"):
            await asyncio.to_thread(raw_http, server.port, f"GET {path} HTTP/1.1\nHost: x\n")
    served = "\n".join(  # the server's own loggers (the test's websockets client logs its URL)
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("rtt", "uvicorn")
    )
    assert "s3cret-key" not in served and "wrong-key" not in served
