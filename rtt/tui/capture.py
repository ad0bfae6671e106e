"""Capture control between the audio source and the pipeline: pause, level, device switch.

`CaptureGate` wraps the session's source. It measures the level of every chunk
(for the meter), and mutes a live input while capture is paused (silence
keeps the stream clock running, so the VAD ends the utterance and what was said
is translated). A file cannot be muted without losing it, so a paused file waits
instead: `PausableClock` freezes stream time while paused, which holds the file's
real-time pacing and keeps lag figures honest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np

from pipeline.audio_format import RATE
from pipeline.events import AudioChunk
from pipeline.stage import Clock, Source

__all__ = ["CaptureGate", "PausableClock", "SILENCE_DB", "level_db"]

SILENCE_DB = -90.0  # the meter's floor


def level_db(samples: np.ndarray) -> float:
    """RMS level in dBFS (full scale = 0 dB), floored at SILENCE_DB."""
    if not len(samples):
        return SILENCE_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DB, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DB


class PausableClock:
    """Wraps the stream clock; while paused, stream time stands still and sources wait."""

    def __init__(self, inner: Clock) -> None:
        self.inner = inner
        self._offset = 0.0  # inner time spent paused
        self._paused_at: float | None = None
        self._running = asyncio.Event()
        self._running.set()

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    @property
    def simulated(self) -> bool:
        return self.inner.simulated

    def bind(self, wait_idle: Callable[[], Awaitable[None]]) -> None:
        self.inner.bind(wait_idle)  # the simulated clock needs the pipeline's idleness

    def start(self) -> None:
        self.inner.start()

    def now(self) -> float:
        inner_now = self._paused_at if self._paused_at is not None else self.inner.now()
        return inner_now - self._offset

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.inner.now()
            self._running.clear()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._offset += self.inner.now() - self._paused_at
            self._paused_at = None
            self._running.set()

    async def sleep_until(self, t: float) -> None:
        while True:
            await self._running.wait()
            await self.inner.sleep_until(t + self._offset)
            if self._running.is_set():
                return


class CaptureGate:
    """A Source around the real one: level meter and mute. Switching the microphone is the
    runner's (`Pipeline.switch_input` with a new gate), which keeps the stream contiguous."""

    def __init__(self, source: Source, *, live: bool, muted: bool = False) -> None:
        self.live = live  # a microphone: muted while paused rather than held
        self.muted = muted
        self.level = SILENCE_DB  # of the latest chunk, before muting
        self.audio_seconds = 0.0  # stream time handed to the pipeline
        self.source = source
        self._samples = 0

    async def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]:
        async for chunk in self.source.chunks(clock):
            yield self._pass(chunk)

    def _pass(self, chunk: AudioChunk) -> AudioChunk:
        self.level = level_db(chunk.samples)
        samples = np.zeros_like(chunk.samples) if self.muted else chunk.samples
        start = self._samples / RATE
        self._samples += len(samples)
        self.audio_seconds = self._samples / RATE
        return dataclasses.replace(chunk, start=start, samples=samples)

    async def close(self) -> None:
        await self.source.close()
