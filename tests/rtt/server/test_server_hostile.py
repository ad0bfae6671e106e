"""Hostile pages and idle sockets, from distinct loopback addresses (127.0.0.2, ...).

DNS rebinding, duplicate Host headers, tokens, per-address limits, idle sockets
that never start, listeners waiting in empty rooms, floods of tiny frames, nested
JSON and trailing newlines in room names: each gets its documented answer, and a
legitimate client goes on working.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtt.server import Close
from rtt.server.loopback import connect_from, listen_until_closed, metric, raw_http
from tests.rtt.server.helpers import pcm, running_server

UPGRADE = (
    "GET /ws HTTP/1.1\nHost: {host}\nUpgrade: websocket\nConnection: Upgrade\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n{extra}"
)


async def refused_code(url, message: str, address: str, **kw) -> tuple[dict, int]:
    async with connect_from(url, address, **kw) as ws:
        with contextlib.suppress(ConnectionClosed):  # a session limit refuses before reading
            await ws.send(message)
        error = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    return error, ws.close_code


async def test_dns_rebinding_and_duplicate_host_are_refused(tmp_path):
    async with running_server(tmp_path, allow_origins=("https://captions.example",)) as server:
        port = server.port

        def upgrade(host, extra=""):
            return raw_http(port, UPGRADE.format(host=host, extra=extra))

        evil = f"evil.example:{port}"  # a page on evil.example that resolves to 127.0.0.1
        status, _ = await asyncio.to_thread(upgrade, evil, f"Origin: http://{evil}\n")
        assert status == 403
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            status, _ = await asyncio.to_thread(upgrade, evil, f"Origin: {origin}\n")
            assert status == 101  # the server's own address, whatever Host says
        status, _ = await asyncio.to_thread(upgrade, "a", "Origin: https://captions.example\n")
        assert status == 101
        status, _ = await asyncio.to_thread(
            upgrade, f"127.0.0.1:{port}", f"Origin: http://127.0.0.1:{port + 1}\n"
        )
        assert status == 403  # another port is another origin
        status, body = await asyncio.to_thread(
            raw_http, port, f"GET /healthz HTTP/1.1\nHost: 127.0.0.1\nHost: {evil}\n"
        )
        assert status == 400 and "Host" in body


async def test_tokens_from_a_file_any_bearer_case_and_the_subprotocol(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# speakers\nfirst-key\n\nsecond-key\n")
    from rtt.server.credentials import bearer_subprotocol, read_token_file

    async with running_server(tmp_path / "j", tokens=tuple(read_token_file(keys))) as server:
        for headers in (
            {"Authorization": "bearer first-key"},
            {"authorization": "BEARER second-key"},
        ):
            async with connect(server.url, additional_headers=headers) as ws:
                await ws.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
                assert json.loads(await ws.recv())["type"] == "ready"
        async with connect(
            server.url, subprotocols=["rtt", bearer_subprotocol("second-key")]
        ) as ws:
            assert ws.subprotocol == "rtt"
        for bad in ({"Authorization": "Bearer third-key"}, {"Authorization": "Basic first-key"}):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(server.url, additional_headers=bad):
                    pass
            assert refused.value.response.status_code == 401


async def test_per_address_limits_leave_room_for_everyone_else(tmp_path):
    async with running_server(tmp_path, per_address=3, rooms_per_address=2, max_rooms=4) as server:
        url = server.url
        held = []
        for room in ("made-up-1", "made-up-2", "made-up-1"):
            ws = await connect_from(url, "127.0.0.2").__aenter__()
            await ws.send(json.dumps({"type": "join", "room": room, "languages": ["de"]}))
            assert json.loads(await ws.recv())["type"] == "ready"
            held.append(ws)
        error, code = await refused_code(
            url, json.dumps({"type": "join", "room": "r", "languages": ["de"]}), "127.0.0.2"
        )
        assert (error["code"], code) == ("address_limit", Close.TRY_AGAIN)
        await held.pop().close()
        error, code = await refused_code(
            url, json.dumps({"type": "join", "room": "made-up-3", "languages": ["de"]}), "127.0.0.2"
        )
        assert (error["code"], code) == ("address_limit", Close.TRY_AGAIN)  # its 2 rooms are held
        async with connect_from(url, "127.0.0.3") as ws:  # someone else still gets a room
            await ws.send(json.dumps({"type": "start", "room": "talk", "targets": []}))
            assert json.loads(await ws.recv())["type"] == "ready"
        for ws in held:
            await ws.close()


async def test_a_trusted_proxy_s_forwarded_address_is_the_client(tmp_path):
    async with running_server(tmp_path, per_address=1, trusted_proxies=("127.0.0.0/8",)) as server:
        join = json.dumps({"type": "join", "room": "r", "languages": ["de"]})

        def via(client):
            return connect(
                server.url, additional_headers={"X-Forwarded-For": f"{client}, 127.0.0.9"}
            )

        async with via("10.0.0.1") as a, via("10.0.0.2") as b:
            for ws in (a, b):
                await ws.send(join)
                assert json.loads(await ws.recv())["type"] == "ready"
            async with via("10.0.0.1") as c:  # refused before it says anything
                assert json.loads(await c.recv())["code"] == "address_limit"


async def test_sockets_that_never_start_and_listeners_in_empty_rooms_are_closed(tmp_path):
    async with running_server(tmp_path, start_timeout=0.3, listener_idle=0.5) as server:
        async with connect_from(server.url, "127.0.0.2") as ws:
            error = json.loads(await asyncio.wait_for(ws.recv(), 5))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        assert error["code"] == "idle_timeout" and ws.close_code == Close.IDLE
        frames, code = await asyncio.wait_for(
            listen_until_closed(
                server.url, {"room": "nobody", "languages": ["de"]}, address="127.0.0.3"
            ),
            5,
        )
        assert frames[-1]["code"] == "idle_timeout" and code == Close.IDLE
        assert metric(server, "rtt_listeners") == 0


async def test_a_flood_of_tiny_frames_is_throttled_by_messages(tmp_path):
    async with running_server(tmp_path) as server:
        async with connect_from(server.url, "127.0.0.2") as ws:
            await ws.send(json.dumps({"type": "start", "targets": []}))
            await ws.recv()

            async def flood():
                for _ in range(20000):  # 2-byte frames: 1.25 s of audio in all
                    await ws.send(b"\x00\x01")

            sender = asyncio.create_task(flood())
            await asyncio.sleep(1.0)
            taken = metric(server, "rtt_audio_messages_total")
            sender.cancel()
    # 4x real time, each message counted as at least 20 ms of audio: about (2 s + 4 t) / 20 ms
    assert 0 < taken <= 2 * (2.0 + 4 * 1.5) / 0.02


async def test_nested_json_and_a_trailing_newline_are_bad_messages(tmp_path):
    async with running_server(tmp_path) as server:
        error, code = await refused_code(server.url, "[" * 100_000, "127.0.0.2")
        assert (error["code"], code) == ("bad_message", Close.PROTOCOL)
        join = json.dumps({"type": "join", "room": "keynote\n", "languages": ["de"]})
        error, code = await refused_code(server.url, join, "127.0.0.3")
        assert (error["code"], code) == ("bad_message", Close.PROTOCOL)


async def test_aborted_joins_do_not_leak_the_listener_gauge(tmp_path):
    async with running_server(tmp_path) as server:
        for i in range(20):
            ws = await connect_from(server.url, f"127.0.0.{2 + i}").__aenter__()
            await ws.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
            ws.transport.abort()  # gone before `ready`
        await asyncio.sleep(0.5)
        gauge = metric(server, "rtt_listeners")
        body = server.metrics.render().decode()
    assert gauge == 0
    assert "process_resident_memory_bytes" in body and "rtt_build_info{" in body
    assert pcm  # the shared helpers stay importable
