"""QueueSource: audio a websocket handler receives, as a pipeline Source.

The handler pushes 16 kHz float32 samples with `feed()` and calls `end()` when
the client stops or vanishes. The queue is bounded in bytes (not in blocks, whose
size the client chooses), so a handler whose pipeline lags waits in `feed()`, and
so stops reading its socket: backpressure reaches the client through TCP instead
of piling up here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from pipeline.audio.convert import Chunker
from pipeline.events import AudioChunk
from pipeline.stage import Clock

__all__ = ["QueueSource"]

_END = None


class QueueSource:
    def __init__(
        self, stream: str, *, chunk_seconds: float = 0.1, max_bytes: int = 409_600
    ) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()  # bounded by bytes
        self._space = asyncio.Event()
        self._space.set()
        self._chunker = Chunker(stream, chunk_seconds)
        self._ended = False

    async def feed(self, samples: np.ndarray) -> None:
        while self.queued_bytes >= self.max_bytes and not self._ended:
            self._space.clear()
            await self._space.wait()
        if not self._ended and len(samples):
            self.queued_bytes += samples.nbytes
            self._queue.put_nowait(samples)

    def end(self) -> None:
        """No more audio; what was fed still flows (never waits)."""
        if self._ended:
            return
        self._ended = True
        self._queue.put_nowait(_END)
        self._space.set()

    async def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]:
        clock.start()
        while True:
            if self._ended and self._queue.empty():
                break
            block = await self._queue.get()
            if block is _END:
                break
            self.queued_bytes -= block.nbytes
            self._space.set()
            for chunk in self._chunker.push(block):
                yield chunk
        for chunk in self._chunker.flush():
            yield chunk

    async def close(self) -> None:
        self.end()
