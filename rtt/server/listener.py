"""A room listener's state, sans I/O: the join it sends, what it makes of each frame, backoff.

`rtt client --listen` and the TUI's room mode (`rtt live --connect`) run the
same state over their own sockets, so both resume the same way:

- `join()` asks for the room's channels, with `since` (the seq of the last
  durable frame received per channel) and the `journal_epoch` those seqs
  belong to, so that a reconnect gets every commit it missed from the journal;
- `on_frame()` keeps `since` and the epochs, notices `end` on every channel,
  and tells a refusal worth retrying (`server_full`, `journal_failed`) from
  one that is not;
- when the server's journal for a channel is another one than the epoch the
  client knew (it was deleted, pruned, or the server runs with another
  `--journal`), the server replays that channel from its start and says so in
  `ready.reset`; the state forgets its old `since` for it;
- `Backoff` spaces reconnection attempts (doubling, capped, for as long as the
  caller wants).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .protocol import DURABLE_TYPES, PROTOCOL_VERSION

__all__ = ["RETRYABLE", "TRANSPORT_FIELDS", "Backoff", "ListenerState", "Received", "event_fields"]

TRANSPORT_FIELDS = frozenset({"seq", "channel", "journal_epoch"})  # on frames, not in events
RETRYABLE = frozenset({"server_full", "journal_failed"})  # refusals that pass with time


def event_fields(frame: dict[str, Any]) -> dict[str, Any]:
    """A frame without its transport fields: the event as `rtt translate --jsonl` writes it."""
    return {k: v for k, v in frame.items() if k not in TRANSPORT_FIELDS}


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: base, 2×base, 4×base, ... up to `cap`."""

    base: float = 0.5
    cap: float = 10.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * 2 ** max(0, failures - 1))


@dataclass(frozen=True, slots=True)
class Received:
    """What one frame means to a listener."""

    event: dict[str, Any] | None = None  # an event to show (transport fields removed)
    ready: bool = False
    reset: tuple[str, ...] = ()  # channels now served from the start of another journal
    refused: str | None = None  # a refusal not worth retrying: "code: message"
    retry: bool = False  # refused for now: reconnect after a backoff
    over: bool = False  # `end` on every joined channel


@dataclass
class ListenerState:
    room: str
    languages: tuple[str, ...]
    source: bool = True
    since: dict[str, int] = field(default_factory=dict)  # channel -> seq of the last durable frame
    epochs: dict[str, str] = field(default_factory=dict)  # channel -> its journal_epoch
    channels: set[str] = field(default_factory=set)  # as the last `ready` listed them
    ended: set[str] = field(default_factory=set)

    def join(self) -> dict[str, Any]:
        join: dict[str, Any] = {
            "type": "join",
            "version": PROTOCOL_VERSION,
            "room": self.room,
            "languages": list(self.languages),
            "source": self.source,
        }
        if self.since:
            join["since"] = dict(self.since)
            epochs = {c: e for c, e in self.epochs.items() if c in self.since}
            if epochs:
                join["journal_epoch"] = epochs
        return join

    def set_languages(self, languages: tuple[str, ...]) -> None:
        self.languages = tuple(languages)

    def on_frame(self, frame: dict[str, Any]) -> Received:
        kind, channel = frame.get("type"), frame.get("channel")
        if kind == "ready":
            return self._ready(frame)
        if kind == "error" and channel is None:  # the server refused the join
            code = frame.get("code")
            if code in RETRYABLE:
                return Received(event=event_fields(frame), retry=True)
            return Received(event=event_fields(frame), refused=f"{code}: {frame.get('message')}")
        if kind in DURABLE_TYPES and channel is not None and isinstance(frame.get("seq"), int):
            self.since[channel] = frame["seq"]
            epoch = frame.get("journal_epoch")
            if isinstance(epoch, str):
                self.epochs[channel] = epoch
        if kind == "end" and channel is not None:
            self.ended.add(channel)
        over = bool(self.channels) and self.ended >= self.channels
        return Received(event=event_fields(frame), over=over)

    def _ready(self, frame: dict[str, Any]) -> Received:
        channels = frame.get("channels")
        self.channels = set(channels) if isinstance(channels, dict) else set()
        self.ended -= self.channels
        reset = tuple(c for c in frame.get("reset") or () if isinstance(c, str))
        for channel in reset:
            self.since.pop(channel, None)
        epochs = frame.get("journal_epoch")
        if isinstance(epochs, dict):
            self.epochs.update({c: e for c, e in epochs.items() if isinstance(e, str)})
        return Received(ready=True, reset=reset)
