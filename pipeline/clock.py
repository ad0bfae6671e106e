"""Stream clocks: real (computation-aware) and simulated (computation-unaware).

Both measure seconds on the stream clock. A source awaits `sleep_until(t)` before
handing over audio that ends at `t`:
- `RealClock` sleeps until `t` seconds of wall time have passed since `start()`,
  which paces a file at real time;
- `SimulatedClock` waits until every stage is idle, then jumps to `t`: compute is
  free, results are repeatable, and a file runs as fast as the pipeline consumes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["RealClock", "SimulatedClock"]


class RealClock:
    simulated = False

    def __init__(self, time_fn: Callable[[], float] = time.monotonic) -> None:
        self._time = time_fn
        self._t0: float | None = None

    def bind(self, wait_idle: Callable[[], Awaitable[None]]) -> None:
        """Wall time does not wait for the pipeline."""

    def start(self) -> None:
        if self._t0 is None:
            self._t0 = self._time()

    def now(self) -> float:
        return 0.0 if self._t0 is None else self._time() - self._t0

    async def sleep_until(self, t: float) -> None:
        self.start()
        delay = t - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class SimulatedClock:
    """Advances only when the pipeline it is bound to is idle."""

    simulated = True

    def __init__(self) -> None:
        self._now = 0.0
        self._wait_idle: Callable[[], Awaitable[None]] | None = None

    def bind(self, wait_idle: Callable[[], Awaitable[None]]) -> None:
        self._wait_idle = wait_idle

    def start(self) -> None:
        pass

    def now(self) -> float:
        return self._now

    async def sleep_until(self, t: float) -> None:
        if self._wait_idle is not None:
            await self._wait_idle()
        self._now = max(self._now, t)
