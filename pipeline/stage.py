"""The stage contract and the source and clock protocols.

A stage is a thin async shell over a pure core. The runner alone owns queues,
linking, cancellation and backpressure; a stage only turns one event into zero or
more events, and forwards what it does not handle (control events included).

What a stage can do beyond `process()` is declared, not detected: its class sets
`capabilities`, and the runner's one drive loop reads it.

- `deferred`: the stage holds *deferred work* (latest-wins re-translation, the
  next ASR pass). It reports `pending()` and does one unit of it in `work()`. The
  runner calls `work()` only while the stage's input queue is empty, so newer
  input is always folded in before stale work starts.
- `overlaps`: `process()` only updates state, so on a real clock the runner keeps
  feeding the stage newer input while one unit of work is in flight (source
  captions never wait behind a translation). Control events (`Flush`, `End`,
  set targets, add a language) wait for the work in flight. On a simulated clock
  compute is free, so the work is never overlapped and the order stays exact.

A stage may also `report()` what the pipeline's stats snapshot shows of it
(`pipeline.stats.StageReport`); front ends read that snapshot, never the stage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from .errors import ConfigError
from .events import AudioChunk, Event
from .stats import StageReport

__all__ = ["Capabilities", "Clock", "Source", "Stage"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a stage declares it can do beyond turning events into events."""

    deferred: bool = False  # pending()/work(): deferred work, done while the inbox is empty
    overlaps: bool = False  # work may run while process() takes newer input (real clock only)

    def __post_init__(self) -> None:
        if self.overlaps and not self.deferred:
            raise ConfigError("a stage can only overlap deferred work it declares")


class Stage:
    """Base of every stage: the contract with its defaults (no deferred work, nothing to report)."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    async def start(self) -> None:
        """Acquire per-stream resources (called once, before the first event)."""

    def process(self, event: Event) -> AsyncIterator[Event]:
        """Turn one event into zero or more; forward what the stage does not handle."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Release what `start()` acquired (called once, after the last event)."""

    def pending(self) -> bool:
        """Deferred work waits (read only when `capabilities.deferred`)."""
        return False

    async def work(self) -> AsyncIterator[Event]:
        """One unit of deferred work (called only when `pending()` and the inbox is empty)."""
        return
        yield  # pragma: no cover - makes this an async generator

    def report(self) -> StageReport:
        """What the pipeline's stats snapshot shows of this stage besides its busy time."""
        return StageReport()


class Clock(Protocol):
    """The stream clock: real (wall time since the first sample) or simulated.

    The runner binds a simulated clock to its idleness (`bind`), starts it when
    the stream starts (`start`), and reads `simulated` to decide whether work may
    overlap newer input.
    """

    simulated: bool

    def now(self) -> float: ...

    async def sleep_until(self, t: float) -> None: ...

    def start(self) -> None: ...

    def bind(self, wait_idle: Callable[[], Awaitable[None]]) -> None: ...


class Source(Protocol):
    """Audio in: yields 16 kHz mono chunks, paced by the clock it is given."""

    def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]: ...

    async def close(self) -> None: ...
