"""Shared plumbing of every source: samples to 16 kHz mono float32, then into chunks.

Both pieces are streaming and synchronous: the resampler keeps soxr's filter state
across calls (so a long input is never held whole), and the chunker turns an
arbitrary run of sample blocks into fixed-size chunks stamped on the stream clock.
"""

from __future__ import annotations

import numpy as np
import soxr

from ..audio_format import RATE  # the one rate inside the pipeline
from ..errors import ConfigError
from ..events import AudioChunk

__all__ = ["RATE", "Chunker", "Resampler", "downmix", "pcm16_to_float"]


def downmix(block: np.ndarray) -> np.ndarray:
    """(frames, channels) or (frames,) → mono float32, averaging the channels."""
    block = np.asarray(block, dtype=np.float32)
    if block.ndim == 2:
        block = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
    return np.ascontiguousarray(block, dtype=np.float32)


def pcm16_to_float(data: bytes, channels: int) -> np.ndarray:
    """Whole frames of interleaved PCM16LE → mono float32 in [-1, 1)."""
    ints = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
    return downmix(ints.astype(np.float32) / 32768.0)


class Resampler:
    """Streaming mono resampler to 16 kHz; a pass-through when the input is 16 kHz."""

    def __init__(self, rate: int) -> None:
        if rate <= 0:
            raise ConfigError(f"sample rate must be positive, not {rate}")
        self.rate = rate
        self._soxr = None if rate == RATE else soxr.ResampleStream(rate, RATE, 1, dtype="float32")

    def push(self, mono: np.ndarray) -> np.ndarray:
        if self._soxr is None:
            return mono
        return self._soxr.resample_chunk(mono)

    def flush(self) -> np.ndarray:
        """The filter's tail; call once at the end of a continuous input."""
        if self._soxr is None:
            return np.zeros(0, dtype=np.float32)
        return self._soxr.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


class Chunker:
    """Cuts a 16 kHz stream into chunks of `chunk_seconds`, stamped by samples seen."""

    def __init__(self, stream: str, chunk_seconds: float) -> None:
        if not chunk_seconds > 0:
            raise ConfigError(f"chunk_seconds must be positive, not {chunk_seconds}")
        self.stream = stream
        self.size = max(1, round(chunk_seconds * RATE))
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self._emitted = 0  # samples handed out so far: the next chunk's start

    @property
    def time(self) -> float:
        """Stream time at the end of everything pushed so far (chunked or pending)."""
        return (self._emitted + self._pending_len) / RATE

    def push(self, samples: np.ndarray) -> list[AudioChunk]:
        if len(samples):
            self._pending.append(samples)
            self._pending_len += len(samples)
        if self._pending_len < self.size:
            return []
        data = np.concatenate(self._pending)
        whole = len(data) - len(data) % self.size
        self._pending = [data[whole:]] if whole < len(data) else []
        self._pending_len = len(data) - whole
        return [self._chunk(data[i : i + self.size]) for i in range(0, whole, self.size)]

    def flush(self) -> list[AudioChunk]:
        """The short remainder at the end of the stream, if any."""
        if not self._pending_len:
            return []
        data = np.concatenate(self._pending)
        self._pending, self._pending_len = [], 0
        return [self._chunk(data)]

    def _chunk(self, samples: np.ndarray) -> AudioChunk:
        start = self._emitted / RATE
        self._emitted += len(samples)
        # A copy, so a chunk never pins the larger decode buffer it was sliced from.
        return AudioChunk(
            stream=self.stream, start=start, samples=samples.astype(np.float32, copy=True)
        )
