"""The evaluation observer: every event that leaves the pipeline, with its stamp.

The harness is this observer plus a clock (simulated or real): all metrics are
computed afterwards from the recorded events, never from inside a stage.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.events import Event, to_json

__all__ = ["EventRecorder"]


class EventRecorder:
    """Records events in order, each with its `emitted` stamp and the wall time seen."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.wall: list[float] = []  # seconds since the first event, for diagnostics only
        self._t0: float | None = None

    def on_event(self, event: Event) -> None:
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        self.events.append(event)
        self.wall.append(now - self._t0)

    def to_json(self) -> list[dict[str, Any]]:
        """The public events as their JSON objects (what `rtt translate --jsonl` prints)."""
        return [to_json(e) for e in self.events]
