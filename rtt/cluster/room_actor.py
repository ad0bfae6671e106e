"""A room as a Ray actor: one named, detached actor per room owns its pipeline, seqs and journal.

The actor drives an `rtt.server.rooms.Room`, the same code as `rtt serve`, on a
journal folder it can reach after a restart (`RoomSettings.journal`: a local
folder on one node, a shared volume on a cluster). Ray restarts a killed actor
(`max_restarts=-1`); the new incarnation reopens the journal, so `seq` goes on
from the last commit and `since` still returns every commit. What the pipeline
had not committed is lost, and the speaker starts again.

Ingress replicas (remote_room.py) reach it by name (`actor_name`):
- a speaker's session calls `start`, `feed` for each block of audio (awaited: a
  full audio queue holds the speaker back as in one process), `end_input`, `wait_end`;
- each ingress long-polls `poll` for the frames the room relays (every frame its
  listeners get, numbered in one sequence per incarnation) and seats its
  listeners with `subscribe`/`unsubscribe`, so the room's limits and idleness
  count them. An ingress that stops polling for `seat_lease` s loses its seats
  (it died); a speaker silent for `idle_timeout` s is ended (its ingress died).
- An actor that has had no speaker and no ingress for `idle_exit` s ends itself
  (a plain stream's actor, a room after its event): its journal stays, and the
  next session makes a new actor that reopens it.

Errors a session must see (`ProtocolError`, `JournalError`) come back as values
(`Outcome`), since Ray re-raises an actor's exception as its own type.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry

from ..server.fanout import Frame
from ..server.journal import Journal, JournalError, Retention
from ..server.metrics import ServerMetrics
from ..server.protocol import ProtocolError
from ..server.rooms import Limits, Room
from ..server.source import QueueSource

__all__ = ["NAMESPACE", "RoomActor", "RoomSettings", "actor_name", "room_actor", "unwrap"]

NAMESPACE = "rtt"
_WATCH_EVERY = 1.0  # seconds between checks of leases and the speaker's silence


@dataclass(frozen=True, slots=True)
class RoomSettings:
    journal: Path  # reachable by every node that may run the room (a shared volume on a cluster)
    retention: Retention = field(default_factory=Retention)
    limits: Limits = field(default_factory=Limits)
    seat_lease: float = 30.0  # seconds an ingress may go without polling before its seats go
    idle_exit: float = 300.0  # seconds with no speaker and no ingress before the actor ends
    relay_frames: int = 2048  # frames kept for pollers that fall behind (beyond: the journal)


def actor_name(name: str, private: bool) -> str:
    return f"rtt-{'stream' if private else 'room'}-{name}"


# ("ok", value) | ("protocol", code, message, close) | ("journal", code, message, None)
Outcome = tuple


def unwrap(outcome: Outcome) -> Any:
    """The value of an actor call, or the error it stands for, raised here."""
    if outcome[0] == "ok":
        return outcome[1]
    kind, code, message, close = outcome
    if kind == "protocol":
        raise ProtocolError(code, message, close)
    raise JournalError(message)


def _caught(method):
    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs) -> Outcome:
        try:
            return ("ok", await method(self, *args, **kwargs))
        except ProtocolError as exc:
            return ("protocol", exc.code, str(exc), exc.close)
        except JournalError as exc:
            return ("journal", exc.code, str(exc), None)

    return wrapper


class _Seat:
    """A listener on some ingress as the Room counts it; its frames travel by the relay."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.channels = tuple(channels)

    def put(self, frame: Frame) -> None:
        pass

    def resume(self, since: dict[str, int]) -> None:
        pass

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class RoomActor:
    def __init__(
        self,
        name: str,
        private: bool,
        settings: RoomSettings,
        registry_factory: Callable[[], EngineRegistry],
    ) -> None:
        self.incarnation = secrets.token_hex(4)  # a restarted actor is another incarnation
        self._created = time.monotonic()
        self._name, self._private, self._settings = name, private, settings
        self._registry_factory = registry_factory
        self._registry: EngineRegistry | None = None
        self._journal = Journal(settings.journal, settings.retention)
        self._metrics = ServerMetrics()
        self._frames: deque[tuple[int, Frame]] = deque(maxlen=settings.relay_frames)
        self._last = 0  # index of the last frame relayed
        self._changed: asyncio.Event | None = None
        self._seats: dict[str, tuple[str, _Seat]] = {}  # seat -> (its ingress, the seat)
        self._seen: dict[str, float] = {}  # ingress -> when it last polled
        self._source: QueueSource | None = None
        self._heard = time.monotonic()  # the speaker's last audio
        self._watcher: asyncio.Task | None = None
        self.failures = 0  # journal failures (each ends a Room; a fresh one takes its place)
        self._failure = ""
        self.room = self._new_room()

    def _new_room(self) -> Room:
        room = Room(
            self._name,
            private=self._private,
            journal=self._journal,
            limits=self._settings.limits,
            metrics=self._metrics,
            on_failed=self._failed,
        )
        room.relay = self._relay
        return room

    def _failed(self, room: Room) -> None:
        self.failures += 1
        self._failure = str(room.failure)
        room.close()
        self.room = self._new_room()  # the name is free again, as `Rooms` evicts a failed room

    def _relay(self, frame: Frame) -> None:
        self._last += 1
        self._frames.append((self._last, frame))
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _state(self) -> dict:
        room = self.room
        return {
            "incarnation": self.incarnation,
            "last": self._last,
            "speaking": room.speaking,
            "quiet_for": 0.0 if room.speaking else time.monotonic() - room.quiet_since,
            "languages": list(room.languages),
            "listeners": len(room.outboxes),
            "seq": {c: room.seq(c) for c in room.channels},
            "epoch": {c: room.epoch(c) for c in room.channels},
            "failures": self.failures,
            "failure": self._failure,
        }

    def _watch(self, ingress: str | None = None) -> None:
        if ingress is not None:
            self._seen[ingress] = time.monotonic()
        if self._watcher is None:
            self._changed = asyncio.Event()
            self._watcher = asyncio.get_running_loop().create_task(self._watch_forever())

    async def _watch_forever(self) -> None:
        limits = self._settings.limits
        while True:
            await asyncio.sleep(_WATCH_EVERY)
            now = time.monotonic()
            gone = {i for i, t in self._seen.items() if now - t > self._settings.seat_lease}
            for seat, (ingress, placeholder) in list(self._seats.items()):
                if ingress in gone:
                    del self._seats[seat]
                    self.room.unsubscribe(placeholder)
            for ingress in gone:
                del self._seen[ingress]
            if self._source is not None and now - self._heard > limits.idle_timeout:
                self._source.end()  # the speaker's ingress is gone: flush what it said
            quiet = now - max(self.room.quiet_since, self._created)
            if not self._seen and self.room.idle and quiet > self._settings.idle_exit:
                self._exit()
                return

    def _exit(self) -> None:
        """No one has used this room for a while: end the actor for good (not restarted),
        which frees its name; the journal stays for the next one."""
        import ray

        self.room.close()
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    # -- what ingresses call --------------------------------------------------------------
    async def hello(self, ingress: str) -> dict:
        self._watch(ingress)
        return self._state()

    async def poll(self, ingress: str, after: int, timeout: float) -> dict:
        """The frames relayed after index `after` (waiting up to `timeout` s for one);
        `gap` when some of them are no longer kept (the journal has the durable ones)."""
        self._watch(ingress)
        if after >= self._last and self._changed is not None:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
            except TimeoutError:
                pass
        oldest = self._frames[0][0] if self._frames else self._last + 1
        frames = [(i, f) for i, f in self._frames if i > after]
        return {**self._state(), "frames": frames, "gap": after + 1 < oldest}

    @_caught
    async def add_languages(self, languages: tuple[str, ...]) -> dict:
        await self.room.add_languages(tuple(languages))
        return self._state()

    @_caught
    async def subscribe(
        self, ingress: str, seat: str, channels: tuple[str, ...], since: dict, epochs: dict
    ) -> dict:
        self._watch(ingress)
        placeholder = _Seat(channels)
        reset = await self.room.subscribe(placeholder, dict(since), dict(epochs))
        self._seats[seat] = (ingress, placeholder)
        return {**self._state(), "reset": reset}

    async def unsubscribe(self, seat: str) -> None:
        held = self._seats.pop(seat, None)
        if held is not None:
            self.room.unsubscribe(held[1])

    @_caught
    async def read_since(self, channel: str, seq: int) -> list[tuple[int, str]]:
        return await self.room.read_since(channel, seq)

    @_caught
    async def start(self, config: PipelineConfig, incarnation: str = "") -> dict:
        """Become the speaker's room. A window that knew an earlier incarnation is told
        this one, and nothing starts: its listeners must reconnect first."""
        if incarnation and incarnation != self.incarnation:
            return self._state()
        if self._registry is None:
            self._registry = self._registry_factory()
        self._source = await self.room.start(config, self._registry)
        self._heard = time.monotonic()
        self._watch()
        return self._state()

    async def feed(self, samples) -> None:
        source = self._source
        if source is not None:
            self._heard = time.monotonic()
            await source.feed(samples)

    async def end_input(self, reason=None) -> None:
        """The speaker's audio is over; `reason` (an `Error`, e.g. a spent key) is sent
        to everyone before `end`, as in the single-process room."""
        if reason is not None:
            self.room.stop_reason = reason
        if self._source is not None:
            self._source.end()

    async def wait_end(self) -> dict:
        """When the speaker's stream is over (every frame relayed): the state then."""
        task = self.room.task
        if task is not None:
            await asyncio.shield(task)
        self._source = None
        return self._state()


@functools.cache
def _remote_class():
    import ray

    return ray.remote(RoomActor)


def room_actor(
    name: str,
    private: bool,
    settings: RoomSettings,
    registry_factory: Callable[[], EngineRegistry],
):
    """The room's actor, made if need be (blocking: call on a thread). Detached, so it
    outlives the ingress replica that made it; Ray restarts it whenever it dies."""
    return (
        _remote_class()
        .options(
            name=actor_name(name, private),
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_restarts=-1,
            max_task_retries=0,
            num_cpus=0,
            max_concurrency=10_000,  # long polls and listeners' calls wait side by side
        )
        .remote(name, private, settings, registry_factory)
    )
