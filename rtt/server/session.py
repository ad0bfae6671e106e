"""One websocket connection: a speaker (plain stream or room) or a listener.

The first message decides the role: `start` streams audio (into a private room,
or as the speaker of a named room), `join` listens to a room. Every failure is
caught here and ends this session alone: a protocol error becomes an `error`
event and its close code, a journal that cannot be read `journal_failed` and
1013, a bug `internal` and close 1011.

A speaker's audio counts against its key's audio per hour (quotas.py), as /v1
files do. A key with none left is refused at `start`; one that runs out
mid-stream ends the stream as `stop` would (what was said is still transcribed
and delivered), then `audio_quota_exceeded` goes to everyone in the room before
`end`, and the speaker is closed with 4029.

Each session holds one socket (one file descriptor); each room holds one more
per channel with a journal file open for appending.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
import time
from dataclasses import dataclass, field

from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.events import Error, to_json

from .fanout import Outbox
from .journal import JournalError
from .metrics import ServerMetrics
from .protocol import (
    PROTOCOL_VERSION,
    SOURCE_CHANNEL,
    AudioDecoder,
    Close,
    JoinMessage,
    ProtocolError,
    StartMessage,
    StopMessage,
    Throttle,
    parse_message,
)
from .quotas import ApiLimits, Quotas
from .rooms import Limits, Room, Rooms
from .source import QueueSource
from .wsconn import AsgiSocket, Disconnected

__all__ = ["ServerContext", "Session"]

log = logging.getLogger("rtt.server")


@dataclass
class ServerContext:
    rooms: Rooms
    registry: EngineRegistry
    config: PipelineConfig
    limits: Limits
    metrics: ServerMetrics
    quotas: Quotas = field(default_factory=lambda: Quotas(ApiLimits()))
    sessions: int = 0
    by_address: dict[str, int] = field(default_factory=dict)  # open sessions per client address
    working: int = 0  # speakers and listeners (shutdown waits for them)
    closing: bool = False  # shutting down: sessions end with 1001 after their last frames

    def enter(self, address: str) -> None:
        self.sessions += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1

    def leave(self, address: str) -> None:
        self.sessions -= 1
        left = self.by_address[address] - 1
        if left:
            self.by_address[address] = left
        else:
            del self.by_address[address]

    def check(self, address: str) -> None:
        if self.sessions > self.limits.max_sessions:
            raise ProtocolError(
                "server_full",
                f"the server has the most sessions allowed ({self.limits.max_sessions})",
                Close.TRY_AGAIN,
            )
        if self.by_address[address] > self.limits.per_address:
            raise ProtocolError(
                "address_limit",
                f"your address has the most sessions allowed ({self.limits.per_address})",
                Close.TRY_AGAIN,
            )


def _spent(refusal) -> ProtocolError:
    return ProtocolError(refusal.code, refusal.message, Close.QUOTA)


def _spawn(coro) -> asyncio.Task:
    """A task whose failure is read by whoever awaits it, or else quietly dropped."""
    task = asyncio.create_task(coro)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task


class Session:
    def __init__(
        self, ws: AsgiSocket, ctx: ServerContext, address: str = "", key: str = ""
    ) -> None:
        self.ws = ws
        self.ctx = ctx
        self.address = address  # the client's (behind a trusted proxy: X-Forwarded-For)
        self.key = key  # the credential it came with ("" on a server without keys); never logged
        self._spent: ProtocolError | None = None  # the key ran out of audio mid-stream
        self.stream = ""
        self.role = "new"
        self._joined = time.monotonic()

    async def run(self) -> None:
        ctx = self.ctx
        ctx.enter(self.address)
        self._count(+1)
        try:
            ctx.check(self.address)
            first = await self._receive(min(ctx.limits.start_timeout, ctx.limits.idle_timeout))
            if isinstance(first, StartMessage):
                await self._speak(first)
            elif isinstance(first, JoinMessage):
                await self._listen(first)
            elif isinstance(first, bytes):
                raise ProtocolError(
                    "audio_before_start", "binary audio before start: send a start message first"
                )
            else:
                raise ProtocolError("not_started", "stop before start")
        except ProtocolError as exc:
            await self._fail(exc.code, str(exc), exc.close)
        except JournalError as exc:  # e.g. no file descriptors left to open a journal file
            await self._fail(exc.code, str(exc), Close.TRY_AGAIN)
        except Disconnected:
            pass  # the client went away; a speaker's pipeline still flushes for its listeners
        except Exception as exc:
            log.exception("session failed")
            await self._fail("internal", f"{type(exc).__name__}: {exc}", Close.INTERNAL)
        finally:
            ctx.leave(self.address)
            self._count(-1)

    def _count(self, delta: int) -> None:
        self.ctx.metrics.sessions.labels(self.role).inc(delta)

    def _become(self, role: str) -> None:
        self._count(-1)
        self.role = role
        self._count(+1)

    # -- messages -----------------------------------------------------------------
    async def _receive(
        self, timeout: float | None
    ) -> bytes | StartMessage | StopMessage | JoinMessage:
        try:
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancel
                message = await self.ws.recv()
        except TimeoutError:
            raise ProtocolError(
                "idle_timeout", f"nothing received for {timeout:g} s", Close.IDLE
            ) from None
        if isinstance(message, bytes):
            return message
        return parse_message(message)

    async def _send(self, obj: dict) -> None:
        await self.ws.send(json.dumps(obj, ensure_ascii=False))

    async def _fail(self, code: str, message: str, close: int | None) -> None:
        self.ctx.metrics.errors.labels(code).inc()
        try:
            await self._send(to_json(Error(stream=self.stream, code=code, message=message)))
            if close is not None:
                await self.ws.close(close, code)  # what the client still sends is dropped
        except Disconnected:
            pass

    async def _discard_incoming(self) -> None:
        async for _ in self.ws:
            pass

    async def _pump(self, outbox: Outbox) -> None:
        """Send the outbox's frames at the pace of the socket, until it is finished."""
        while texts := await outbox.get():
            for i, text in enumerate(texts, 1):
                await self.ws.send(text)
                if i % 32 == 0:  # a journal page is many frames: let the other sessions run
                    await asyncio.sleep(0)

    # -- speaker --------------------------------------------------------------------
    async def _speak(self, start: StartMessage) -> None:
        self._become("speaker" if start.room else "stream")
        rooms = self.ctx.rooms
        self.stream = start.room or f"s-{secrets.token_hex(6)}"
        refusal = self.ctx.quotas.exhausted(self.key, time.monotonic())
        if refusal is not None:
            raise _spent(refusal)

        def claim() -> Room:
            return rooms.get(
                self.stream, private=start.room is None, owner=self.address, speaker=True
            )

        config = self._config_for(start)  # before the room: a bad request holds no room
        room = claim()
        outbox: Outbox | None = None
        pump: asyncio.Task | None = None
        drain: asyncio.Task | None = None
        started = False
        try:
            try:
                source = await room.start(config, self.ctx.registry)
            except ProtocolError as exc:
                if exc.code != "room_restarted":
                    raise
                # On Ray: the room's actor restarted before this replica's window on it
                # saw it. A speaker holds no place in the old window: open the new one.
                rooms.release(room)
                room = claim()
                source = await room.start(config, self.ctx.registry)
            self.ctx.working += 1
            started = True
            try:
                if start.receive:
                    channels = room.channels if room.private else [SOURCE_CHANNEL, *start.targets]
                    outbox = Outbox(channels, room.read_since, limit=self.ctx.limits.outbox)
                    await room.subscribe(outbox, {})
                await self._send(
                    self._ready(room, "speaker", outbox.channels if outbox is not None else ())
                )
                pump = _spawn(self._pump(outbox)) if outbox is not None else None
                try:
                    await self._read_until_over(room, source, start.rate)
                except ProtocolError as exc:
                    if exc.close != Close.QUOTA:
                        raise
                    self._spent = exc  # as `stop`: what was said flushes, then the error, `end`
                    room.stop_reason = Error(stream=self.stream, code=exc.code, message=str(exc))
            finally:
                source.end()  # also when the client vanished or broke the rules: what it said still flushes
            # Read on (and drop what comes after `stop`) while the room flushes: unread
            # messages would stop the transport reading, and with it the client's pongs.
            drain = _spawn(self._discard_incoming())
            await asyncio.shield(room.task)  # type: ignore[arg-type]
            if outbox is not None and pump is not None:
                outbox.finish()
                await pump
            await self._close_after(room, told=outbox is not None)
        finally:
            for task in (pump, drain):
                if task is not None:
                    task.cancel()
            if started:
                self.ctx.working -= 1
            if outbox is not None:
                self._settle(room, outbox)
            rooms.release(room)

    async def _read_until_over(self, room: Room, source: QueueSource, rate: int) -> None:
        """Read audio until `stop`, or until the room's stream ends first (its journal
        failed, or the server shuts down)."""
        reader = _spawn(self._read_audio(source, rate))
        await asyncio.wait({reader, room.task}, return_when=asyncio.FIRST_COMPLETED)  # type: ignore[arg-type]
        if reader.done() or (room.failure is None and not self.ctx.closing):
            await reader  # a pipeline error: the client still says `stop` as usual
        else:
            reader.cancel()

    async def _close_after(self, room: Room, *, told: bool = True) -> None:
        """The close that follows a stream's last frame (`told`: the failure, if any, was
        sent through the outbox)."""
        failure = room.failure
        if failure is None and self._spent is not None:
            if not told:
                await self._send(
                    to_json(
                        Error(stream=self.stream, code=self._spent.code, message=str(self._spent))
                    )
                )
            await self.ws.close(Close.QUOTA, self._spent.code)
        elif failure is not None:
            if not told:
                await self._send(
                    to_json(Error(stream=self.stream, code=failure.code, message=str(failure)))
                )
            await self.ws.close(Close.INTERNAL, failure.code)
        elif self.ctx.closing:
            await self.ws.close(Close.GOING_AWAY, "server shutting down")
        elif self.role != "listener":
            await self.ws.close(Close.NORMAL)

    def _config_for(self, start: StartMessage) -> PipelineConfig:
        base = self.ctx.config
        asr = base.asr
        if start.source_lang is not None:
            asr = dataclasses.replace(
                asr, language=None if start.source_lang == "auto" else start.source_lang
            )
        vad = base.vad if start.vad is None else dataclasses.replace(base.vad, backend=start.vad)  # type: ignore[arg-type]
        mt = dataclasses.replace(base.mt, targets=start.targets, partials=start.partials)
        glossary = start.glossary or base.glossary  # the speaker's, else the server's default
        return dataclasses.replace(
            base, stream=self.stream, asr=asr, vad=vad, mt=mt, glossary=glossary
        )

    async def _read_audio(self, source: QueueSource, rate: int) -> None:
        """Until `stop`: decode, feed, and hold the client to `rate_factor` × real time,
        counting both its audio and its messages."""
        limits, metrics = self.ctx.limits, self.ctx.metrics
        decoder = AudioDecoder(rate)
        throttle = Throttle(
            limits.rate_factor, patience=limits.abuse_after, message_seconds=limits.message_seconds
        )
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        messages = 0
        while True:
            message = await self._receive(limits.idle_timeout)
            if isinstance(message, StopMessage):
                await source.feed(decoder.flush())
                return
            if not isinstance(message, bytes):
                raise ProtocolError(
                    "unexpected_message", "a stream takes audio and stop only after start"
                )
            refusal = self.ctx.quotas.charge_audio(
                self.key, len(message) / 2 / rate, time.monotonic()
            )
            if refusal is not None:
                await source.feed(decoder.flush())
                raise _spent(refusal)
            samples = decoder.decode(message)
            messages += 1
            metrics.audio_seconds.inc(len(message) / 2 / rate)
            metrics.audio_messages.inc()
            await source.feed(samples)
            delay = throttle.delay(decoder.seconds, loop.time() - t0, messages)
            if throttle.abusive:
                raise ProtocolError(
                    "rate_limited",
                    f"audio (or messages) kept arriving faster than {limits.rate_factor:g}x "
                    "real time",
                    Close.RATE,
                )
            if delay > 0:
                await asyncio.sleep(delay)  # not reading: TCP holds the client back

    # -- listener -------------------------------------------------------------------
    async def _listen(self, join: JoinMessage) -> None:
        self._become("listener")
        self.stream = join.room
        rooms = self.ctx.rooms
        room = rooms.get(join.room, owner=self.address)
        outbox = Outbox(join.channels, room.read_since, limit=self.ctx.limits.outbox)
        pump: asyncio.Task | None = None
        counted = False
        try:
            room.check_capacity()
            await room.add_languages(join.languages)
            reset = await room.subscribe(outbox, dict(join.since), dict(join.epochs))
            self.ctx.metrics.listeners.inc()
            self.ctx.working += 1
            counted = True
            await self._send(self._ready(room, "listener", join.channels, reset))
            pump = _spawn(self._pump(outbox))
            reader = _spawn(self._receive(None))
            idle = _spawn(self._watch_idle(room))
            done, _ = await asyncio.wait({pump, reader, idle}, return_when=asyncio.FIRST_COMPLETED)
            reader.cancel()
            idle.cancel()
            if pump in done:
                pump.result()  # Disconnected when the client vanished
                await self._close_after(room)  # its stream failed, or the server shuts down
            elif idle in done:
                idle.result()
            else:
                reader.result()  # Disconnected when the client leaves; else what it sent
                raise ProtocolError("unexpected_message", "a listener sends nothing after join")
        finally:
            if pump is not None:
                pump.cancel()
            if counted:
                self.ctx.metrics.listeners.dec()
                self.ctx.working -= 1
            self._settle(room, outbox)
            rooms.release(room)

    async def _watch_idle(self, room: Room) -> None:
        """Raise idle_timeout once the room has been without a speaker for `listener_idle` s."""
        limit = self.ctx.limits.listener_idle
        while True:
            quiet = 0.0 if room.speaking else time.monotonic() - max(room.quiet_since, self._joined)
            if quiet >= limit:
                raise ProtocolError(
                    "idle_timeout",
                    f"room {room.name} has had no speaker for {limit:g} s",
                    Close.IDLE,
                )
            await asyncio.sleep(min(limit - quiet, 5.0) if not room.speaking else min(limit, 5.0))

    def _settle(self, room: Room, outbox: Outbox) -> None:
        room.unsubscribe(outbox)
        self.ctx.metrics.coalesced.inc(outbox.coalesced)
        self.ctx.metrics.overflows.inc(outbox.overflows)

    def _ready(self, room: Room, role: str, channels, reset=()) -> dict:
        ready = {
            "type": "ready",
            "version": PROTOCOL_VERSION,
            "role": role,
            "room": None if room.private else room.name,
            "stream": room.name,
            "channels": {c: room.seq(c) for c in channels},
            "journal_epoch": {c: room.epoch(c) for c in channels},
        }
        if reset:
            ready["reset"] = list(reset)  # their `since` was of another journal: from the start
        return ready
