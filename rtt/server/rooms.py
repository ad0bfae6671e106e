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
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
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
    SourceCommit,
    SourcePartial,
    TargetCommit,
    TargetPartial,
    to_json,
)
from pipeline.factory import build_pipeline
from pipeline.runner import Pipeline

from .fanout import Frame, Outbox
from .journal import Journal, JournalFile
from .metrics import ServerMetrics
from .protocol import SOURCE_CHANNEL, STREAM_CHANNEL, Close, ProtocolError
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
    idle_timeout: float = (
        60.0  # seconds without a message before a speaker (or a silent new client) is closed
    )
    rate_factor: float = 4.0  # audio faster than this × real time is throttled
    abuse_after: float = 30.0  # seconds of sustained throttling before the stream is refused
    max_message: int = 1 << 18  # bytes per websocket message (max_size)


def _durable(event: Event) -> bool:
    return isinstance(event, (SourceCommit, TargetCommit, Error, End))


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
    ) -> None:
        self.name = name
        self._on_idle = on_idle
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
        self._running = False

    # -- channels ---------------------------------------------------------------
    @property
    def channels(self) -> list[str]:
        return [STREAM_CHANNEL] if self.private else [SOURCE_CHANNEL, *self.languages]

    def channels_of(self, event: Event) -> list[str]:
        if self.private:
            return [STREAM_CHANNEL]
        if isinstance(event, (TargetPartial, TargetCommit)):
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
            seq = await asyncio.to_thread(file.last_seq)
            if channel not in self._files:  # another caller may have opened it meanwhile
                self._files[channel], self._seq[channel] = file, seq
        return self._files[channel]

    def seq(self, channel: str) -> int:
        return self._seq.get(channel, 0)

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
    async def subscribe(self, outbox: Outbox, since: dict[str, int]) -> None:
        self.check_capacity()
        for channel in outbox.channels:
            await self._open(channel)
        self.outboxes.add(outbox)  # live frames queue up from now on ...
        outbox.resume(since)  # ... and the journal fills in what came before

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
            source = QueueSource(self.name, chunk_seconds=config.source.chunk_seconds)
            pipeline = build_pipeline(config, source, registry, clock=RealClock())
        except BaseException:
            self._running = False
            raise
        self._pipeline, self.source = pipeline, source
        self.task = asyncio.create_task(self._run(pipeline), name=f"room-{self.name}")
        return source

    async def _run(self, pipeline: Pipeline) -> None:
        ended = False
        try:
            async for event in pipeline.run():
                self._metrics.observe(event)
                await self.publish(event)
                ended = isinstance(event, End)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here ends this room's stream, never the server
            log.exception("room %s failed", self.name)
            await self.publish(
                Error(stream=self.name, code="internal", message=f"{type(exc).__name__}: {exc}")
            )
        finally:
            self._metrics.add_stats(pipeline.stats())
            self._pipeline = None
        if not ended:
            await self.publish(End(stream=self.name))
        self.source, self._running = None, False
        if self.idle:
            self._on_idle(self)

    async def publish(self, event: Event) -> None:
        durable = _durable(event)
        if isinstance(event, Error):
            self._metrics.errors.labels(event.code).inc()
        for channel in self.channels_of(event):
            file = await self._open(channel)
            seq = self._seq[channel] = self._seq[channel] + 1
            text = json.dumps(
                {**to_json(event), "seq": seq, "channel": channel}, ensure_ascii=False
            )
            if durable:
                await asyncio.to_thread(file.append, text)
            frame = Frame(channel, seq, text, durable, *_keys(channel, event))
            for outbox in list(self.outboxes):
                outbox.put(frame)

    @property
    def idle(self) -> bool:
        return not self.speaking and not self.outboxes

    def close(self) -> None:
        for file in self._files.values():
            file.close()


def _keys(channel: str, event: Event) -> tuple[tuple | None, tuple | None]:
    """(what this partial replaces, what partial this commit makes stale)."""
    if isinstance(event, TargetPartial):
        return (channel, "target", event.lang, event.sentence), None
    if isinstance(event, TargetCommit):
        return None, (channel, "target", event.lang, event.sentence)
    if isinstance(event, SourcePartial):
        return (channel, "source"), None
    return None, None


class Rooms:
    """Every room of a server, within the limits."""

    def __init__(self, *, journal: Journal, limits: Limits, metrics: ServerMetrics) -> None:
        self._journal = journal
        self._limits = limits
        self._metrics = metrics
        self._rooms: dict[str, Room] = {}

    def get(self, name: str, *, private: bool = False) -> Room:
        room = self._rooms.get(name)
        if room is None:
            if len(self._rooms) >= self._limits.max_rooms:
                raise ProtocolError(
                    "server_full",
                    f"the server holds the most rooms allowed ({self._limits.max_rooms})",
                    Close.TRY_AGAIN,
                )
            room = Room(
                name,
                private=private,
                journal=self._journal,
                limits=self._limits,
                metrics=self._metrics,
                on_idle=self.release,
            )
            self._rooms[name] = room
            self._metrics.rooms.set(len(self._rooms))
        elif room.private != private:
            raise ProtocolError("bad_message", f"{name} is not a room", Close.PROTOCOL)
        return room

    def release(self, room: Room) -> None:
        """Forget a room nobody uses any more (its journal stays on disk)."""
        if room.idle and self._rooms.get(room.name) is room:
            del self._rooms[room.name]
            room.close()
            self._metrics.rooms.set(len(self._rooms))

    def journal_paths(self) -> set:
        return {file.path for room in self._rooms.values() for file in room._files.values()}

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
