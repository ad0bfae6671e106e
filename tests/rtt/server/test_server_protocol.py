"""The server on localhost:0 on fake engines: routes, security, limits, misbehaving clients.

Each bad client gets the documented error code and close code (docs/protocol.md)
while a well-behaved session runs alongside and finishes intact.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pipeline.errors import ConfigError
from pipeline.fakes import FakeTranslator, fake_registry
from rtt.server import Close, RttServer, ServerConfig
from rtt.server.protocol import DURABLE_TYPES
from tests.rtt.server.helpers import (
    commits,
    listen_frames,
    pcm,
    running_server,
    speak_frames,
)


def http_get(url: str, headers: dict | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, "", exc.read().decode()


async def expect_refusal(url, message, *, code: str, close: int):
    """Send one message; expect an error event with `code`, then the close code."""
    async with connect(url) as ws:
        await ws.send(message)
        error = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert error["type"] == "error" and error["code"] == code, error
    assert ws.close_code == close, (ws.close_code, ws.close_reason)
    return error


async def test_http_routes(tmp_path):
    async with running_server(tmp_path) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert (await asyncio.to_thread(http_get, base + "/healthz"))[0] == 200
        status, kind, body = await asyncio.to_thread(http_get, base + "/")
        assert status == 200 and kind.startswith("text/html") and "app.js" in body
        for name in ("app.js", "worklet.js", "style.css"):
            assert (await asyncio.to_thread(http_get, f"{base}/{name}"))[0] == 200
        assert (await asyncio.to_thread(http_get, base + "/nothing"))[0] == 404
        await speak_frames(server.url, pcm(1.0), start={"targets": ["de"]})
        status, kind, body = await asyncio.to_thread(http_get, base + "/metrics")
        assert status == 200 and "rtt_stage_latency_seconds_count" in body
        audio = next(
            line for line in body.splitlines() if line.startswith("rtt_audio_seconds_total")
        )
        assert float(audio.split()[-1]) == pytest.approx(1.0)


async def test_plain_stream_seq_is_per_session_and_journaled(tmp_path):
    async with running_server(tmp_path) as server:
        frames = await speak_frames(server.url, pcm(2.5), start={"targets": ["de", "es"]})
    ready, events = frames[0], frames[1:]
    assert ready["type"] == "ready" and ready["room"] is None
    assert [f["seq"] for f in events] == list(range(1, len(events) + 1))
    assert {f["channel"] for f in events} == {"stream"} and events[-1]["type"] == "end"
    assert {f["lang"] for f in events if f["type"] == "target_commit"} == {"de", "es"}
    journal = (tmp_path / "streams" / f"{ready['stream']}.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in journal] == [
        f["seq"] for f in events if f["type"] in DURABLE_TYPES
    ]
    assert any(f["type"] == "target_append" for f in events)  # durable too


async def test_other_rates_are_resampled(tmp_path):
    async with running_server(tmp_path) as server:
        frames = await speak_frames(
            server.url, pcm(2.0, rate=44100), rate=44100, start={"targets": []}
        )
    words = [f["text"] for f in frames if f["type"] == "source_commit"]
    # 2 s at 44.1 kHz is 2 s at 16 kHz: 4 words of 0.5 s
    assert " ".join(words) == "w1 w2 w3 w4."


async def test_token_is_required_when_set(tmp_path):
    async with running_server(tmp_path, token="s3cret") as server:
        for headers in (None, {"Authorization": "Bearer wrong"}):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(server.url, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == 401
        async with connect(server.url, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            await ws.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
            assert json.loads(await ws.recv())["type"] == "ready"
        async with connect(server.url + "?token=s3cret") as ws:
            await ws.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
            assert json.loads(await ws.recv())["type"] == "ready"
        base = f"http://127.0.0.1:{server.port}"
        assert (await asyncio.to_thread(http_get, base + "/metrics"))[0] == 401
        assert (await asyncio.to_thread(http_get, base + "/metrics?token=s3cret"))[0] == 200
        assert (await asyncio.to_thread(http_get, base + "/healthz"))[0] == 200


def test_non_loopback_without_token_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="token"):
        RttServer(ServerConfig(journal=tmp_path, host="0.0.0.0"), fake_registry())


async def test_origins(tmp_path):
    async with running_server(tmp_path, allow_origins=("https://captions.example",)) as server:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.url, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403
        for origin in (f"http://127.0.0.1:{server.port}", "https://captions.example"):
            async with connect(server.url, origin=origin) as ws:
                await ws.send(json.dumps({"type": "join", "room": "r", "languages": ["de"]}))
                assert json.loads(await ws.recv())["type"] == "ready"


async def test_bad_clients_get_their_codes_while_others_continue(tmp_path):
    async with running_server(tmp_path, max_message=4096) as server:
        url = server.url
        good_listener = asyncio.create_task(
            listen_frames(url, {"room": "main", "languages": ["de"]})
        )
        await asyncio.sleep(0.1)
        good = asyncio.create_task(
            speak_frames(url, pcm(8.0), speed=4, start={"room": "main", "targets": ["de"]})
        )
        await asyncio.sleep(0.3)
        await expect_refusal(url, "{not json", code="bad_json", close=Close.INVALID_DATA)
        await expect_refusal(
            url, json.dumps({"type": "dance"}), code="unknown_type", close=Close.PROTOCOL
        )
        await expect_refusal(
            url, b"\x00\x01" * 100, code="audio_before_start", close=Close.PROTOCOL
        )
        await expect_refusal(
            url,
            json.dumps({"type": "start", "targets": ["de"], "encoding": "opus"}),
            code="unsupported_encoding",
            close=Close.UNSUPPORTED,
        )
        await expect_refusal(
            url,
            json.dumps({"type": "start", "targets": ["xx"]}),
            code="unsupported_language",
            close=Close.UNSUPPORTED,
        )
        async with connect(url) as ws:  # odd-length PCM after a valid start
            await ws.send(json.dumps({"type": "start", "targets": []}))
            assert json.loads(await ws.recv())["type"] == "ready"
            await ws.send(b"\x00" * 301)
            frames = [json.loads(m) async for m in _until_closed(ws)]
        assert (
            any(f["type"] == "error" and f["code"] == "bad_audio" for f in frames)
            and ws.close_code == Close.INVALID_DATA
        )
        async with connect(url) as ws:  # a frame over max_size
            await ws.send(json.dumps({"type": "start", "targets": []}))
            await ws.recv()
            await ws.send(b"\x00" * 8192)
            _ = [m async for m in _until_closed(ws)]
        assert ws.close_code == Close.TOO_BIG
        await _vanishing_speaker(url)
        spoken, heard = await asyncio.wait_for(asyncio.gather(good, good_listener), 30)
    assert (
        spoken[-1]["type"] == "end"
        and " ".join(t for _, t in commits(spoken, "source")).split()[-1] == "w16."
    )
    assert commits(heard, "de") == commits(spoken, "de") and commits(heard, "de")


async def _until_closed(ws):
    try:
        async for message in ws:
            yield message
    except ConnectionClosed:
        return


async def _vanishing_speaker(url):
    """A speaker that drops its TCP connection mid-stream: its listener still gets what was said, then end."""
    listener = asyncio.create_task(listen_frames(url, {"room": "gone", "languages": ["es"]}))
    await asyncio.sleep(0.1)
    ws = await connect(url)
    await ws.send(json.dumps({"type": "start", "room": "gone", "targets": ["es"]}))
    await ws.recv()
    audio = pcm(2.1)
    for i in range(0, len(audio), 3200):
        await ws.send(audio[i : i + 3200])
    await asyncio.sleep(0.2)
    ws.transport.abort()
    heard = await asyncio.wait_for(listener, 10)
    assert [text for _, text in commits(heard, "es")] == ["[es] w1 w2 w3 w4."]
    assert heard[-1]["type"] == "end"


async def test_limits(tmp_path):
    async with running_server(tmp_path, max_listeners=2, max_languages=2, max_rooms=2) as server:
        url = server.url
        async with connect(url) as first, connect(url) as second:
            for ws in (first, second):
                await ws.send(json.dumps({"type": "join", "room": "a", "languages": ["de"]}))
                assert json.loads(await ws.recv())["type"] == "ready"
            await expect_refusal(
                url,
                json.dumps({"type": "join", "room": "a", "languages": ["de"]}),
                code="room_full",
                close=Close.TRY_AGAIN,
            )
        await expect_refusal(
            url,
            json.dumps({"type": "join", "room": "b", "languages": ["de", "es", "fr"]}),
            code="language_limit",
            close=Close.TRY_AGAIN,
        )
        async with connect(url) as a, connect(url) as b:
            await a.send(json.dumps({"type": "join", "room": "r1", "languages": ["de"]}))
            await b.send(json.dumps({"type": "join", "room": "r2", "languages": ["de"]}))
            await a.recv(), await b.recv()
            await expect_refusal(
                url,
                json.dumps({"type": "join", "room": "r3", "languages": ["de"]}),
                code="server_full",
                close=Close.TRY_AGAIN,
            )
        async with connect(url) as speaker:
            await speaker.send(json.dumps({"type": "start", "room": "talk", "targets": ["de"]}))
            assert json.loads(await speaker.recv())["type"] == "ready"
            await expect_refusal(
                url,
                json.dumps({"type": "start", "room": "talk", "targets": ["de"]}),
                code="room_busy",
                close=Close.BUSY,
            )


async def test_idle_timeout_and_rate_abuse(tmp_path):
    async with running_server(tmp_path, idle_timeout=0.3, abuse_after=0.3) as server:
        async with connect(server.url) as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        assert error["code"] == "idle_timeout" and ws.close_code == Close.IDLE
    # the real composition (VAD, ASR) shares this event loop: no idle timeout while flooding
    async with running_server(tmp_path, idle_timeout=30, abuse_after=0.3) as server:
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"type": "start", "targets": []}))
            await ws.recv()
            chunk = pcm(0.5)
            try:
                for _ in range(200):  # 100 s of audio as fast as the socket takes it
                    await ws.send(chunk)
            except ConnectionClosed:
                pass
            frames = [json.loads(m) async for m in _until_closed(ws)]
        assert any(f["type"] == "error" and f["code"] == "rate_limited" for f in frames)
        assert ws.close_code == Close.RATE


async def test_a_listener_on_a_slow_link_catches_up_from_the_journal(tmp_path, monkeypatch):
    """Its outbox overflows and it is served from the journal: every commit still arrives, in order.

    On loopback the socket buffers would hide a slow reader, so the link itself is slowed here.
    """
    from rtt.server.session import Session

    fast_pump = Session._pump

    async def slow_pump(self, outbox):
        if "es" not in outbox.channels:  # only the Spanish listener has a slow link
            return await fast_pump(self, outbox)
        while texts := await outbox.get():
            for text in texts:
                await asyncio.sleep(0.1)
                await self.ws.send(text)

    monkeypatch.setattr(Session, "_pump", slow_pump)
    async with running_server(tmp_path, outbox=2) as server:
        fast = asyncio.create_task(listen_frames(server.url, {"room": "r", "languages": ["de"]}))
        slow = asyncio.create_task(listen_frames(server.url, {"room": "r", "languages": ["es"]}))
        await asyncio.sleep(0.1)
        await speak_frames(server.url, pcm(6.0), speed=4, start={"room": "r", "targets": ["de"]})
        fast, slow = await asyncio.wait_for(asyncio.gather(fast, slow), 30)
    assert server.metrics.registry.get_sample_value("rtt_listener_catchups_total") >= 1
    assert commits(slow, "source") == commits(fast, "source")
    assert " ".join(text for _, text in commits(fast, "source")).split()[-1] == "w12."
    assert [text for _, text in commits(slow, "es")] == [
        "[es] w1 w2 w3 w4.",
        "[es] w5 w6 w7 w8.",
        "[es] w9 w10 w11 w12.",
    ]


async def test_a_failing_pipeline_ends_only_its_own_stream(tmp_path):
    # the translator fails for "it": only the room that translates into it ends
    async with running_server(tmp_path, translator=FakeTranslator(fail_for="it")) as server:
        good = asyncio.create_task(
            speak_frames(server.url, pcm(4.0), start={"room": "fine", "targets": ["de"]})
        )
        bad = await speak_frames(server.url, pcm(4.0), start={"room": "boom", "targets": ["it"]})
        good = await good
    errors = [f for f in bad if f["type"] == "error"]
    assert errors and errors[0]["code"] == "internal" and "fell over" in errors[0]["message"]
    assert bad[-1]["type"] == "end"
    assert good[-1]["type"] == "end" and not [f for f in good if f["type"] == "error"]
    assert len(commits(good, "de")) == 2


async def test_seq_continues_across_a_restart(tmp_path):
    async with running_server(tmp_path) as server:
        first = await speak_frames(server.url, pcm(2.0), start={"room": "again", "targets": ["de"]})
    async with running_server(tmp_path) as server:
        listener = asyncio.create_task(
            listen_frames(server.url, {"room": "again", "languages": ["de"]})
        )
        await asyncio.sleep(0.1)
        second = await speak_frames(
            server.url, pcm(2.0), start={"room": "again", "targets": ["de"]}
        )
        heard = await asyncio.wait_for(listener, 10)
    # the journal's last seq (the first stream's `end`) is where the room starts again
    assert heard[0]["channels"]["de"] == max(f["seq"] for f in first if f.get("channel") == "de")
    for channel in ("source", "de"):
        before = max(f["seq"] for f in first if f.get("channel") == channel)
        after = [f["seq"] for f in second[1:] if f.get("channel") == channel]
        assert after and min(after) > before
