"""Listener outboxes: bounded, stale partials coalesced, commits never lost.

Each listener has one `Outbox`. The room puts frames in (never waiting, so a
slow listener cannot slow the room or anyone else); the listener's sender task
takes them out at the pace of its socket.

- A partial replaces the queued partial it supersedes (same channel and
  sentence), moving to the back so `seq` stays increasing on the wire.
- A commit removes the queued partial of its sentence.
- When the queue is full, partials go first. If it is still full, the listener
  is too slow for live delivery: the queue is dropped and its channels switch to
  catch-up, served from the journal (where every commit already is) from the
  last seq the listener was sent. A joining listener with `since` starts in the
  same catch-up state. So no commit is ever dropped, and memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

__all__ = ["Frame", "Outbox"]

# (channel, seq) -> every durable frame of that channel after seq, as (seq, text)
JournalReader = Callable[[str, int], Awaitable[list[tuple[int, str]]]]


@dataclass(frozen=True, slots=True)
class Frame:
    channel: str
    seq: int | None  # None: a notice outside the journal's sequence (journal failure)
    text: str  # the JSON text sent
    durable: bool  # in the journal (commits, errors, end)
    key: tuple | None = None  # partials: what a newer partial replaces
    settles: tuple | None = None  # commits: the partial key they make stale


class Outbox:
    def __init__(self, channels: Iterable[str], reader: JournalReader, *, limit: int = 256) -> None:
        self.channels = tuple(channels)
        self.limit = limit
        self._reader = reader
        self._queue: deque[Frame] = deque()
        self._cursor = {c: 0 for c in self.channels}  # last seq sent per channel
        self._catch_up: set[str] = set()
        self._wake = asyncio.Event()
        self.coalesced = 0  # partials replaced or dropped
        self.overflows = 0  # times the queue was handed over to the journal
        self.closed = False
        self._finishing = False

    def resume(self, since: dict[str, int]) -> None:
        """Send every durable frame after `since[channel]` before live ones."""
        for channel, seq in since.items():
            self._cursor[channel] = seq
            self._catch_up.add(channel)
        self._wake.set()

    def catch_up(self) -> None:
        """Serve every channel from the journal after the last seq sent: frames were lost
        on their way to this outbox (a relay that fell behind, rtt/cluster/)."""
        self._catch_up.update(self.channels)
        self._wake.set()

    def put(self, frame: Frame) -> None:
        if self.closed or frame.channel not in self._cursor:
            return
        if frame.key is not None and self._remove(lambda f: f.key == frame.key):
            self.coalesced += 1
        if frame.settles is not None and self._remove(lambda f: f.key == frame.settles):
            self.coalesced += 1
        if len(self._queue) >= self.limit:
            self._make_room(frame)
        if len(self._queue) < self.limit:
            self._queue.append(frame)
        self._wake.set()

    def _make_room(self, frame: Frame) -> None:
        dropped = self._remove(lambda f: f.key is not None)
        self.coalesced += dropped
        if len(self._queue) < self.limit:
            return
        if frame.key is not None:  # the new partial itself is dropped
            self.coalesced += 1
            return
        self.overflows += 1
        self._catch_up.update(f.channel for f in self._queue)
        self._catch_up.add(frame.channel)
        self._queue.clear()

    def _remove(self, match: Callable[[Frame], bool]) -> int:
        """Drop the queued frames that match (O(limit): the queue is small)."""
        kept = deque(f for f in self._queue if not match(f))
        removed = len(self._queue) - len(kept)
        self._queue = kept
        return removed

    async def get(self) -> list[str]:
        """The next texts to send, in order; waits while there is nothing."""
        while not self.closed:
            if self._catch_up:
                channel = self._catch_up.pop()
                out = []
                for seq, text in await self._reader(channel, self._cursor[channel]):
                    if seq > self._cursor[channel]:
                        self._cursor[channel] = seq
                        out.append(text)
                if out:  # one page of the journal: read on from here next time
                    self._catch_up.add(channel)
                    return out
                continue
            while self._queue:
                frame = self._queue.popleft()
                if frame.seq is None:
                    return [frame.text]
                if frame.seq > self._cursor[frame.channel]:
                    self._cursor[frame.channel] = frame.seq
                    return [frame.text]
            if self._finishing:
                return []
            self._wake.clear()
            await self._wake.wait()
        return []

    def finish(self) -> None:
        """Nothing more will be put: `get()` returns [] once everything queued is out."""
        self._finishing = True
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._queue.clear()
        self._wake.set()

    def __len__(self) -> int:
        return len(self._queue)
