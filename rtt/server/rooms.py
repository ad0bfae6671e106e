"""Rooms: one speaker's pipeline, its channels, its listeners.

A room runs one pipeline (one VAD and ASR pass) whatever the number of
listeners, built by the factory every front end uses, whose translator serves
every language in use, up to a cap; a listener's new language reaches the
running translator in band (`Pipeline.send(AddTarget)`). Each
event leaving the pipeline goes to a channel (`source` for the transcript, a
language code for a translation; errors and `end` go to every channel), gets
the channel's next `seq`, is journaled if durable, then put in the outbox of
every listener of that channel. A plain stream session is a private room whose
single channel (`stream`) carries everything, so its `seq` is per session.

A room outlives its speaker while listeners stay (a new speaker may take over),
and a listener may join before the speaker starts.

`relay`, when set, also gets every frame the listeners get (in order): on Ray a
room actor drives a Room and relays its frames to listeners on other processes
(rtt/cluster/room_actor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.clock import RealClock
from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.events import (
    AddTarget,
    End,
    Error,
    Event,
    SourcePartial,
    TargetAppend,
    TargetCommit,
    TargetPartial,
    to_json,
)
from pipeline.factory import build_pipeline
from pipeline.runner import Pipeline

from .fanout import Frame, Outbox
from .journal import Journal, JournalError, JournalFile
from .metrics import ServerMetrics
from .protocol import DURABLE_EVENTS, SOURCE_CHANNEL, STREAM_CHANNEL, Close, ProtocolError
from .source import QueueSource

__all__ = ["Limits", "Room", "Rooms"]

log = logging.getLogger("rtt.server")


@dataclass(frozen=True, slots=True)
class Limits:
    max_sessions: int = 1000  # open websocket sessions, all roles
    max_rooms: int = 32  # rooms and plain streams held at once
    max_listeners: int = 500  # per room
    max_languages: int = 4  # translation languages per room
    outbox: int = 256  # frames queued per listener before it catches up from the journal
    idle_timeout: float = 60.0  # seconds without a message before a speaker is closed
    start_timeout: float = 10.0  # seconds a new connection has to send start or join
    listener_idle: float = 900.0  # seconds a listener may wait in a room without a speaker
    per_address: int = 256  # open sessions per client address
    rooms_per_address: int = 8  # rooms and streams one client address has opened and holds
    rate_factor: float = 4.0  # audio faster than this × real time is throttled
    message_seconds: float = 0.02  # a message counts as at least this much audio (throttle)
    abuse_after: float = 30.0  # seconds of sustained throttling before the stream is refused
    max_message: int = 1 << 18  # bytes per websocket message (max_size)
    audio_queue: int = 409_600  # bytes of decoded audio queued per speaker (6.4 s at 16 kHz)


def _durable(event: Event) -> bool:
    return isinstance(event, DURABLE_EVENTS)


class Room:
    def __init__(
        self,
        name: str,
        *,
        private: bool,
        journal: Journal,
        limits: Limits,
        metrics: ServerMetrics,
        on_idle: Callable[[Room], None] = lambda room: None,
        on_failed: Callable[[Room], None] = lambda room: None,
        owner: str = "",
    ) -> None:
        self.name = name
        self.owner = owner  # the client address that opened it
        self._on_idle = on_idle
        self._on_failed = on_failed
        self.failure: JournalError | None = None  # the journal failed: this room is over
        self.quiet_since = time.monotonic()  # when it last had no speaker
        self.private = private
        self._journal = journal
        self._limits = limits
        self._metrics = metrics
        self.languages: list[str] = []
        self.outboxes: set[Outbox] = set()
        self._files: dict[str, JournalFile] = {}
        self._seq: dict[str, int] = {}
        self._pipeline: Pipeline | None = None
        self.source: QueueSource | None = None
        self.task: asyncio.Task | None = None
        self.stop_reason: Error | None = None  # why the speaker was stopped: sent before `end`
        self.relay: Callable[[Frame], None] | None = None
        self._running = False
        self._ended = False

    # -- channels ---------------------------------------------------------------
    @property
    def channels(self) -> list[str]:
        return [STREAM_CHANNEL] if self.private else [SOURCE_CHANNEL, *self.languages]

    def channels_of(self, event: Event) -> list[str]:
        if self.private:
            return [STREAM_CHANNEL]
        if isinstance(event, (TargetPartial, TargetAppend, TargetCommit)):
            return [event.lang]
        if isinstance(event, (Error, End)):
            return self.channels
        return [SOURCE_CHANNEL]

    async def _open(self, channel: str) -> JournalFile:
        if channel not in self._files:
            file = (
                self._journal.stream(self.name)
                if self.private
                else self._journal.room(self.name, channel)
            )
            seq = await self._journal.open(file)  # JournalError: the session refuses the client
            if channel not in self._files:  # another caller may have opened it meanwhile
                self._files[channel], self._seq[channel] = file, seq
        return self._files[channel]

    def seq(self, channel: str) -> int:
        return self._seq.get(channel, 0)

    def epoch(self, channel: str) -> str:
        file = self._files.get(channel)
        return file.epoch if file is not None else ""

    async def read_since(self, channel: str, seq: int) -> list[tuple[int, str]]:
        return await self._journal.read_since(await self._open(channel), seq)

    async def add_languages(self, languages: tuple[str, ...]) -> None:
        new = [lang for lang in languages if lang not in self.languages]
        if len(self.languages) + len(new) > self._limits.max_languages:
            raise ProtocolError(
                "language_limit",
                f"room {self.name} already translates into {', '.join(self.languages) or 'nothing'}; "
                f"at most {self._limits.max_languages} languages per room",
                Close.TRY_AGAIN,
            )
        for lang in new:
            self.languages.append(lang)
            await self._open(lang)
            if self._pipeline is not None:
                await self._pipeline.send(AddTarget(stream=self.name, lang=lang))

    # -- listeners --------------------------------------------------------------
    async def subscribe(
        self, outbox: Outbox, since: dict[str, int], epochs: dict[str, str] | None = None
    ) -> list[str]:
        """Add a listener; the channels whose `since` belongs to another journal (they
        are served from the start of this one instead)."""
        self.check_capacity()
        for channel in outbox.channels:
            await self._open(channel)
        epochs = epochs or {}
        reset = [c for c, seq in since.items() if self._stale(c, seq, epochs.get(c))]
        since = {c: 0 if c in reset else seq for c, seq in since.items()}
        self.outboxes.add(outbox)  # live frames queue up from now on ...
        outbox.resume(since)  # ... and the journal fills in what came before
        return reset

    def _stale(self, channel: str, seq: int, epoch: str | None) -> bool:
        if epoch:
            return epoch != self.epoch(channel)
        return seq > self.seq(channel)  # a seq this journal never reached

    def check_capacity(self) -> None:
        if len(self.outboxes) >= self._limits.max_listeners:
            raise ProtocolError(
                "room_full",
                f"room {self.name} has the most listeners allowed ({self._limits.max_listeners})",
                Close.TRY_AGAIN,
            )

    def unsubscribe(self, outbox: Outbox) -> None:
        self.outboxes.discard(outbox)
        outbox.close()
        if self.idle:
            self._on_idle(self)

    # -- the speaker's pipeline -------------------------------------------------
    @property
    def speaking(self) -> bool:
        return self._running

    async def start(self, config: PipelineConfig, registry: EngineRegistry) -> QueueSource:
        if self.speaking:
            raise ProtocolError("room_busy", f"room {self.name} already has a speaker", Close.BUSY)
        self._running = True  # claimed before the first await: one speaker per room
        self.stop_reason = None
        try:
            # Languages nobody listens to any more are dropped between speakers.
            self.languages = [
                lang for lang in self.languages if any(lang in o.channels for o in self.outboxes)
            ]
            await self.add_languages(config.mt.targets)
            for channel in self.channels:
                await self._open(channel)
            config = dataclasses.replace(
                config,
                stream=self.name,
                mt=dataclasses.replace(config.mt, targets=tuple(self.languages)),
            )
            source = QueueSource(
                self.name,
                chunk_seconds=config.source.chunk_seconds,
                max_bytes=self._limits.audio_queue,
            )
            pipeline = build_pipeline(config, source, registry, clock=RealClock())
        except BaseException:
            self._running = False
            raise
        self._pipeline, self.source = pipeline, source
        self.task = asyncio.create_task(self._run(pipeline), name=f"room-{self.name}")
        return source

    async def _run(self, pipeline: Pipeline) -> None:
        self._ended = False
        try:
            try:
                async with contextlib.aclosing(pipeline.run()) as events:
                    async for event in events:
                        self._metrics.observe(event)
                        if isinstance(event, End):
                            await self._publish_stop_reason()
                        await self.publish(event)
            except (asyncio.CancelledError, JournalError):
                raise
            except Exception as exc:  # a bug here ends this room's stream, never the server
                log.exception("room %s failed", self.name)
                message = f"{type(exc).__name__}: {exc}"
                await self.publish(Error(stream=self.name, code="internal", message=message))
            finally:
                self._metrics.add_stats(pipeline.stats())
                self._pipeline = None
            await self._publish_stop_reason()
            await self.publish_end()
        except JournalError as exc:
            self.fail(exc)
        finally:
            self.source, self._running = None, False
            self.quiet_since = time.monotonic()
        if self.idle:
            self._on_idle(self)

    async def _publish_stop_reason(self) -> None:
        """Why the speaker was stopped, once: after what was said, before `end`."""
        reason, self.stop_reason = self.stop_reason, None
        if reason is not None:
            await self.publish(reason)

    async def publish_end(self) -> None:
        """`end` on every channel, unless the stream already sent it."""
        if not self._ended:
            await self.publish(End(stream=self.name))

    async def abort(self) -> None:
        """Stop the pipeline now (shutdown past its deadline); `end` still goes out."""
        if self.task is None or self.task.done():
            return
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        with contextlib.suppress(JournalError):
            await self.publish_end()

    async def publish(self, event: Event) -> None:
        durable = _durable(event)
        if isinstance(event, Error):
            self._metrics.errors.labels(event.code).inc()
        for channel in self.channels_of(event):
            file = await self._open(channel)
            seq = self._seq[channel] + 1
            obj = {**to_json(event), "seq": seq, "channel": channel}
            if durable:
                obj["journal_epoch"] = file.epoch
            text = json.dumps(obj, ensure_ascii=False)
            if durable:
                await self._journal.append(file, text)  # JournalError: this seq was never used
            self._seq[channel] = seq
            self._deliver(Frame(channel, seq, text, durable, *_keys(channel, event)))
        if isinstance(event, End):
            self._ended = True

    def _deliver(self, frame: Frame) -> None:
        for outbox in list(self.outboxes):
            outbox.put(frame)
        if self.relay is not None:
            self.relay(frame)

    def fail(self, exc: JournalError) -> None:
        """The journal failed: tell everyone (not journaled, no seq), end, and give up the room."""
        log.error("room %s ends: %s", self.name, exc)
        self.failure = exc
        self._metrics.journal_failures.inc()
        self._metrics.errors.labels(exc.code).inc()
        message = f"{exc}; this stream is over (nothing after this was journaled)"
        for channel in self.channels:
            for event in (
                Error(stream=self.name, code=exc.code, message=message),
                End(stream=self.name),
            ):
                text = json.dumps({**to_json(event), "channel": channel}, ensure_ascii=False)
                self._deliver(Frame(channel, None, text, False))
        for outbox in list(self.outboxes):
            outbox.finish()
        self._on_failed(self)

    @property
    def idle(self) -> bool:
        return not self.speaking and not self.outboxes

    def close(self) -> None:
        for file in self._files.values():
            file.close()  # never raises


def _keys(channel: str, event: Event) -> tuple[tuple | None, tuple | None]:
    """(what this partial replaces, what partial this commit makes stale)."""
    if isinstance(event, TargetPartial):
        return (channel, "target", event.lang, event.sentence), None
    if isinstance(event, TargetCommit):
        return None, (channel, "target", event.lang, event.sentence)
    if isinstance(event, SourcePartial):
        return (channel, "source"), None
    return None, None


async def end_speakers(rooms, timeout: float) -> list:
    """Shutdown's first half, for in-process rooms and their Ray windows alike: end every
    speaker's input and let each pipeline flush for up to `timeout` s; the rooms, listed."""
    rooms = list(rooms)
    for room in rooms:
        if room.source is not None:
            room.source.end()
    tasks = [r.task for r in rooms if r.task is not None and not r.task.done()]
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
    return rooms


class Rooms:
    """Every room of a server, within the limits."""

    def __init__(self, *, journal: Journal, limits: Limits, metrics: ServerMetrics) -> None:
        self._journal = journal
        self._limits = limits
        self._metrics = metrics
        self._rooms: dict[str, Room] = {}

    def get(
        self, name: str, *, private: bool = False, owner: str = "", speaker: bool = False
    ) -> Room:
        """The room, made if need be. Rooms with a speaker and rooms waiting for one are
        counted apart (`max_rooms` each): listeners waiting in made-up rooms never keep a
        speaker out."""
        room = self._rooms.get(name)
        if speaker and not (room is not None and room.speaking):
            self._check_pool(sum(r.speaking for r in self._rooms.values()), "rooms with a speaker")
        if room is None:
            if not speaker:
                waiting = sum(not r.speaking for r in self._rooms.values())
                self._check_pool(waiting, "rooms waiting for a speaker")
            self._check_owner(owner)
            room = Room(
                name,
                private=private,
                journal=self._journal,
                limits=self._limits,
                metrics=self._metrics,
                on_idle=self.release,
                on_failed=self._evict,
                owner=owner,
            )
            self._rooms[name] = room
            self._metrics.rooms.set(len(self._rooms))
        elif room.private != private:
            raise ProtocolError("bad_message", f"{name} is not a room", Close.PROTOCOL)
        return room

    def _check_pool(self, held: int, what: str) -> None:
        if held >= self._limits.max_rooms:
            raise ProtocolError(
                "server_full",
                f"the server holds the most {what} allowed ({self._limits.max_rooms})",
                Close.TRY_AGAIN,
            )

    def _check_owner(self, owner: str) -> None:
        held = sum(1 for room in self._rooms.values() if room.owner == owner)
        if owner and held >= self._limits.rooms_per_address:
            raise ProtocolError(
                "address_limit",
                f"your address holds the most rooms and streams allowed "
                f"({self._limits.rooms_per_address})",
                Close.TRY_AGAIN,
            )

    def _evict(self, room: Room) -> None:
        """A failed room gives up its name and slot at once; its sessions end on their own."""
        if self._rooms.get(room.name) is room:
            del self._rooms[room.name]
            self._metrics.rooms.set(len(self._rooms))
        room.close()

    def release(self, room: Room) -> None:
        """Forget a room nobody uses any more (its journal stays on disk)."""
        if room.idle and self._rooms.get(room.name) is room:
            del self._rooms[room.name]
            room.close()
            self._metrics.rooms.set(len(self._rooms))

    def journal_paths(self) -> set:
        return {file.path for room in self._rooms.values() for file in room._files.values()}

    async def drain(self, timeout: float) -> None:
        """Shutdown: end every speaker's input, let each pipeline flush (its final pass,
        commits and `end` on every channel) for up to `timeout` s, then stop the rest with
        `end`; every listener's outbox then finishes."""
        rooms = await end_speakers(self._rooms.values(), timeout)
        for room in rooms:
            await room.abort()
            for outbox in list(room.outboxes):
                outbox.finish()

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            if room.source is not None:
                room.source.end()
            if room.task is not None:
                room.task.cancel()
        await asyncio.gather(
            *(r.task for r in self._rooms.values() if r.task), return_exceptions=True
        )
        for room in self._rooms.values():
            room.close()
        self._rooms.clear()

    def __iter__(self):
        return iter(list(self._rooms.values()))
