"""The stage contract and the source and clock protocols.

A stage is a thin async shell over a pure core. The runner alone owns queues,
linking, cancellation and backpressure; a stage only turns one event into zero or
more events, and forwards what it does not handle.

A stage may also hold *deferred work* (latest-wins re-translation, the next ASR
pass): it reports `pending()` and does one unit of it in `work()`. The runner
calls `work()` only while the stage's input queue is empty, so newer input is
always folded in before stale work starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from .events import AudioChunk, Event

__all__ = ["Clock", "DeferredWork", "Source", "Stage"]


@runtime_checkable
class Stage(Protocol):
    async def start(self) -> None: ...

    def process(self, event: Event) -> AsyncIterator[Event]: ...

    async def stop(self) -> None: ...


@runtime_checkable
class DeferredWork(Protocol):
    def pending(self) -> bool: ...

    def work(self) -> AsyncIterator[Event]: ...


class Clock(Protocol):
    """The stream clock: real (wall time since the first sample) or simulated."""

    def now(self) -> float: ...

    async def sleep_until(self, t: float) -> None: ...


class Source(Protocol):
    """Audio in: yields 16 kHz mono chunks, paced by the clock it is given."""

    def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]: ...

    async def close(self) -> None: ...
