"""Rooms on Ray, as an ingress replica sees them: the rooms backend of `RttServer`.

`RayRooms` has the interface of `rtt.server.rooms.Rooms` (get, release, drain,
close), and its `RemoteRoom`s that of a `Room` as a `Session` uses it, so the
websocket sessions run unchanged. The room itself lives in its actor
(room_actor.py); a `RemoteRoom` is this replica's window on it:

- one poller per room and replica long-polls the actor's relay and puts each
  frame in the outboxes of this replica's listeners (the same `Outbox` as in one
  process: coalescing, catch-up from the journal, which is read through the actor);
  frames the relay no longer holds are caught up from the journal;
- a speaker's audio goes to the actor (`RemoteSource`); `task` ends once the
  stream is over and every frame of it has reached the outboxes here;
- if the actor dies (a new incarnation answers, or a call fails), this window
  closes: each listener gets `room_restarted` and a close (1011), reconnects with
  `since` to any replica, and the restarted actor serves it from the journal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import RttError
from pipeline.events import Error, to_json

from ..server.fanout import Frame, Outbox
from ..server.metrics import ServerMetrics
from ..server.protocol import SOURCE_CHANNEL, STREAM_CHANNEL, Close, ProtocolError
from ..server.rooms import Limits, end_speakers
from .room_actor import RoomSettings, room_actor, unwrap

__all__ = ["RayRooms", "RemoteRoom", "RemoteSource", "RoomLost"]

log = logging.getLogger("rtt.cluster")
POLL_SECONDS = 5.0
RESTART_WAIT = 60.0  # seconds a new window waits for a room actor Ray is restarting


class RoomLost(RttError):
    """The room's actor died (Ray restarts it): its listeners reconnect with `since`."""

    code = "room_restarted"


class RemoteSource:
    """A speaker's audio, sent to the room's actor (the `QueueSource` lives there)."""

    def __init__(self, actor, call, room: RemoteRoom) -> None:
        self._actor = actor
        self._call = call  # the room's: a dead actor closes the room's window
        self._room = room
        self._ended = False

    async def feed(self, samples) -> None:
        if not self._ended:
            await self._call(self._actor.feed.remote(samples))

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._actor.end_input.remote(self._room.stop_reason)


class RemoteRoom:
    def __init__(
        self,
        name: str,
        *,
        private: bool,
        owner: str,
        settings: RoomSettings,
        registry_factory: Callable[[], EngineRegistry],
        ingress: str,
        on_lost: Callable[[RemoteRoom], None],
    ) -> None:
        self.name, self.private, self.owner = name, private, owner
        self._settings, self._registry_factory = settings, registry_factory
        self._ingress, self._on_lost = ingress, on_lost
        self.outboxes: set[Outbox] = set()
        self.failure: RttError | None = None
        self.source: RemoteSource | None = None
        self.stop_reason: Error | None = None  # set by the session (a spent key): sent at the end
        self.task: asyncio.Task | None = None
        self.quiet_since = time.monotonic()
        self._speaker = False
        self._seats: dict[Outbox, str] = {}
        self._state: dict = {}
        self._actor = None
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task | None = None
        self._after = 0  # the last relay index delivered here
        self._moved = asyncio.Event()  # set (and renewed) whenever _after grows or the room is lost

    # -- the actor ---------------------------------------------------------------------
    async def _ready(self):
        async with self._lock:
            if self.failure is not None:
                raise ProtocolError("room_restarted", str(self.failure), Close.TRY_AGAIN)
            if self._actor is None:
                actor, state = await self._open()
                self._actor, self._after = actor, state["last"]
                self._apply(state)
                self._poller = asyncio.create_task(self._poll(), name=f"relay-{self.name}")
            return self._actor

    async def _open(self) -> tuple[Any, dict]:
        """The room's actor (made if need be) and its state. While Ray restarts it, calls
        fail: try again for a while, looking it up anew (an actor that ended itself for
        idleness is made again: the name is free)."""
        deadline = time.monotonic() + RESTART_WAIT
        while True:
            try:
                actor = await asyncio.to_thread(
                    room_actor, self.name, self.private, self._settings, self._registry_factory
                )
                return actor, await actor.hello.remote(self._ingress)
            except Exception:
                if time.monotonic() > deadline:
                    raise ProtocolError(
                        "server_full", f"room {self.name} is not reachable", Close.TRY_AGAIN
                    ) from None
                await asyncio.sleep(0.5)

    async def _call(self, ref):
        try:
            return await ref
        except Exception as exc:  # the actor died: Ray restarts it, this window closes
            self._lose(f"{type(exc).__name__}")
            raise ProtocolError(RoomLost.code, str(self.failure), Close.INTERNAL) from None

    def _apply(self, state: dict) -> None:
        if "incarnation" in self._state and state["incarnation"] != self._state["incarnation"]:
            self._lose("a new incarnation")
            return
        if state["failures"] > self._state.get("failures", state["failures"]):
            self._fail_journal(state["failure"])
        self._state = {k: v for k, v in state.items() if k not in ("frames", "gap", "reset")}
        if not state["speaking"] and not self._speaker:
            self.quiet_since = time.monotonic() - state["quiet_for"]

    async def _poll(self) -> None:
        try:
            while self.failure is None:
                await self._poll_once()
        except ProtocolError:
            pass  # lost: _call closed the window

    async def _poll_once(self) -> None:
        reply = await self._call(self._actor.poll.remote(self._ingress, self._after, POLL_SECONDS))
        if reply["incarnation"] != self._state["incarnation"]:
            self._lose("a new incarnation")  # its relay numbers frames anew: nothing to deliver
            return
        if reply["gap"]:
            for outbox in list(self.outboxes):
                outbox.catch_up()
        for index, frame in reply["frames"]:
            if index > self._after:
                for outbox in list(self.outboxes):
                    outbox.put(frame)
        self._apply(reply)
        if self.failure is None and reply["last"] > self._after:
            self._after = reply["last"]
            self._moved.set()
            self._moved = asyncio.Event()

    def _lose(self, why: str) -> None:
        if self.failure is not None:
            return
        log.warning("room %s: its actor is gone (%s); listeners reconnect", self.name, why)
        self.failure = RoomLost(f"room {self.name} was restarted; reconnect with since")
        message = str(self.failure)
        for channel in self.channels:
            event = Error(stream=self.name, code=RoomLost.code, message=message)
            text = json.dumps({**to_json(event), "channel": channel}, ensure_ascii=False)
            for outbox in list(self.outboxes):
                outbox.put(Frame(channel, None, text, False))
        self._end_all()

    def _fail_journal(self, message: str) -> None:
        """The actor's room failed its journal: its frames (error, end) were relayed."""
        from ..server.journal import JournalError

        self.failure = JournalError(message)
        self._end_all()

    def _end_all(self) -> None:
        for outbox in list(self.outboxes):
            outbox.finish()
        self._moved.set()
        self._on_lost(self)

    # -- what a Session uses ---------------------------------------------------------------
    @property
    def channels(self) -> list[str]:
        if self.private:
            return [STREAM_CHANNEL]
        return [SOURCE_CHANNEL, *self._state.get("languages", ())]

    def seq(self, channel: str) -> int:
        return self._state.get("seq", {}).get(channel, 0)

    def epoch(self, channel: str) -> str:
        return self._state.get("epoch", {}).get(channel, "")

    @property
    def speaking(self) -> bool:
        return self._speaker or bool(self._state.get("speaking"))

    @property
    def idle(self) -> bool:
        return not self._speaker and not self.outboxes

    def check_capacity(self) -> None:
        limit = self._settings.limits.max_listeners
        if self._state.get("listeners", 0) >= limit:
            raise ProtocolError(
                "room_full",
                f"room {self.name} has the most listeners allowed ({limit})",
                Close.TRY_AGAIN,
            )

    async def read_since(self, channel: str, seq: int) -> list[tuple[int, str]]:
        actor = await self._ready()
        return unwrap(await self._call(actor.read_since.remote(channel, seq)))

    async def add_languages(self, languages: tuple[str, ...]) -> None:
        actor = await self._ready()
        self._apply(unwrap(await self._call(actor.add_languages.remote(tuple(languages)))))

    async def subscribe(
        self, outbox: Outbox, since: dict[str, int], epochs: dict[str, str] | None = None
    ) -> list[str]:
        actor = await self._ready()
        seat = f"{self._ingress}/{secrets.token_hex(6)}"
        # In before the actor counts it: no relayed frame after this point is missed. The
        # outbox is not read before this returns, so `resume` still decides what is sent first.
        self.outboxes.add(outbox)
        try:
            call = actor.subscribe.remote(self._ingress, seat, outbox.channels, since, epochs or {})
            state = unwrap(await self._call(call))
        except BaseException:
            self.outboxes.discard(outbox)
            raise
        self._seats[outbox] = seat
        self._apply(state)
        reset = list(state["reset"])
        outbox.resume({c: 0 if c in reset else seq for c, seq in since.items()})
        return reset

    def unsubscribe(self, outbox: Outbox) -> None:
        self.outboxes.discard(outbox)
        outbox.close()
        seat = self._seats.pop(outbox, None)
        if seat is not None and self._actor is not None and self.failure is None:
            self._actor.unsubscribe.remote(seat)

    async def start(self, config: PipelineConfig, registry: EngineRegistry) -> RemoteSource:
        """Become the speaker (`registry` is this replica's: the actor uses its own)."""
        if self._speaker:
            raise ProtocolError("room_busy", f"room {self.name} already has a speaker", Close.BUSY)
        self._speaker = True  # claimed before the first await, as in Room.start
        try:
            actor = await self._ready()
            call = actor.start.remote(config, self._state["incarnation"])
            self._apply(unwrap(await self._call(call)))
            if isinstance(self.failure, RoomLost):  # restarted before this window saw it
                raise ProtocolError(RoomLost.code, str(self.failure), Close.TRY_AGAIN)
        except BaseException:
            self._speaker = False
            raise
        self.stop_reason = None
        self.source = RemoteSource(actor, self._call, self)
        self.task = asyncio.create_task(self._until_over(actor), name=f"speaker-{self.name}")
        return self.source

    async def _until_over(self, actor) -> None:
        """The stream is over: the actor's pipeline ended and its last frame is here."""
        try:
            state = await self._call(actor.wait_end.remote())
            while self.failure is None and self._after < state["last"]:
                moved = self._moved
                await moved.wait()
        except ProtocolError:
            pass  # lost
        finally:
            self._speaker, self.source = False, None
            self.quiet_since = time.monotonic()

    def close(self) -> None:
        """Stop relaying and give up the seats; the sessions settle their outboxes."""
        if self._poller is not None and self._poller is not asyncio.current_task():
            self._poller.cancel()
        seats, self._seats = list(self._seats.values()), {}
        if self._actor is not None and self.failure is None:
            for seat in seats:
                self._actor.unsubscribe.remote(seat)


class RayRooms:
    """The rooms an ingress replica has open, each one a window on its room's actor.

    Made like `Rooms` (`RttServer(config, registry, rooms=partial(RayRooms, ...))`).
    `max_rooms` counts the rooms open on this replica.
    """

    def __init__(
        self,
        *,
        journal,
        limits: Limits,
        metrics: ServerMetrics,
        settings: RoomSettings,
        registry_factory: Callable[[], EngineRegistry],
        ingress: str | None = None,
    ) -> None:
        self._limits = limits
        self._metrics = metrics
        self._settings = settings
        self._registry_factory = registry_factory
        self.ingress = ingress or f"ingress-{secrets.token_hex(6)}"
        self._rooms: dict[tuple[bool, str], RemoteRoom] = {}

    def get(
        self, name: str, *, private: bool = False, owner: str = "", speaker: bool = False
    ) -> RemoteRoom:
        room = self._rooms.get((private, name))
        if room is None:
            if len(self._rooms) >= 2 * self._limits.max_rooms:  # speaking and waiting, as Rooms
                raise ProtocolError(
                    "server_full",
                    f"this replica holds the most rooms allowed ({self._limits.max_rooms})",
                    Close.TRY_AGAIN,
                )
            room = RemoteRoom(
                name,
                private=private,
                owner=owner,
                settings=self._settings,
                registry_factory=self._registry_factory,
                ingress=self.ingress,
                on_lost=self._forget,
            )
            self._rooms[(private, name)] = room
            self._metrics.rooms.set(len(self._rooms))
        return room

    def _forget(self, room: RemoteRoom) -> None:
        """A lost window gives up its name at once: the next session opens a new one."""
        if self._rooms.get((room.private, room.name)) is room:
            del self._rooms[(room.private, room.name)]
            self._metrics.rooms.set(len(self._rooms))
        room.close()

    def release(self, room: RemoteRoom) -> None:
        if room.idle:
            self._forget(room)

    def journal_paths(self) -> set:
        return set()  # the journal is the actors' (pruning there is not done yet)

    async def drain(self, timeout: float) -> None:
        for room in await end_speakers(self._rooms.values(), timeout):
            for outbox in list(room.outboxes):
                outbox.finish()

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            if room.source is not None:
                room.source.end()
            room.close()
        self._rooms.clear()

    def __iter__(self):
        return iter(list(self._rooms.values()))
