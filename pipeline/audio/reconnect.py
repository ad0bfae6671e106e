"""The pure core of a live stream's reconnection: when to retry, and the silence owed.

No I/O and no clocks of its own: callers pass the time. `ReconnectPolicy` says how
long to wait before each attempt (exponential backoff, capped) and when to give up
(no audio for `window` seconds). `Outage` accounts for one drop: while the stream
is away, silence stands in for it so the stream clock keeps running with the wall
clock; the VAD hears a pause and ends the utterance the drop cut, so what was said
before the drop is finished and committed, not held or lost. When the stream comes
back quickly, the silence is topped up to `MIN_GAP` so the cut utterance still ends
before the new audio begins (MIN_GAP is longer than the VAD's default hang-over).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["MIN_GAP", "Outage", "ReconnectPolicy"]

MIN_GAP = 1.0  # seconds of silence at least, for any drop


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    window: float = 60.0  # give up after this long without audio; 0: never reconnect
    first_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.window < 0:
            raise ConfigError(f"the reconnect window must not be negative, not {self.window}")
        if not (0 < self.first_delay <= self.max_delay and self.factor >= 1):
            raise ConfigError("reconnect delays must be positive, growing, and capped")

    def delay(self, attempt: int, elapsed: float) -> float | None:
        """Seconds to wait before attempt number `attempt` (1, 2, ...), `elapsed` seconds
        after the drop; None: give up. The last attempt is made at the window's end."""
        if self.window <= 0 or elapsed >= self.window:
            return None
        wait = min(self.max_delay, self.first_delay * self.factor ** max(0, attempt - 1))
        return min(wait, self.window - elapsed)


class Outage:
    """One drop, from the last audio to the next: the silence that stands in for it."""

    def __init__(self, *, began: float, at: float, reason: str, rate: int = 16000) -> None:
        self.began = began  # wall time of the drop
        self.at = at  # stream time of the drop
        self.reason = reason
        self.attempts = 0
        self._rate = rate
        self._given = 0  # samples of silence handed out so far

    @property
    def silence(self) -> float:
        """Seconds of silence handed out so far."""
        return self._given / self._rate

    def fill(self, now: float, *, over: bool = False) -> int:
        """Samples of silence owed at wall time `now` (since the last call): the time the
        stream has been away, and at least MIN_GAP once it is `over` (back or given up)."""
        owed = max(0.0, now - self.began)
        if over:
            owed = max(owed, MIN_GAP)
        due = round(owed * self._rate) - self._given
        if due <= 0:
            return 0
        self._given += due
        return due
