"""QueueSource: audio a websocket handler receives, as a pipeline Source.

The handler pushes 16 kHz float32 samples with `feed()` and calls `end()` when
the client stops or vanishes. The queue is bounded, so a handler whose pipeline
lags waits in `feed()`, and so stops reading its socket: backpressure reaches
the client through TCP instead of piling up here.
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
    def __init__(self, stream: str, *, chunk_seconds: float = 0.1, max_blocks: int = 64) -> None:
        self.stream = stream
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue(max_blocks)
        self._chunker = Chunker(stream, chunk_seconds)
        self._ended = False

    async def feed(self, samples: np.ndarray) -> None:
        if not self._ended and len(samples):
            await self._queue.put(samples)

    def end(self) -> None:
        """No more audio; what was fed still flows (never waits)."""
        if self._ended:
            return
        self._ended = True
        try:
            self._queue.put_nowait(_END)
        except asyncio.QueueFull:  # the reader drains the queue and then sees `_ended`
            pass

    async def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]:
        clock.start()
        while True:
            if self._ended and self._queue.empty():
                break
            block = await self._queue.get()
            if block is _END:
                break
            for chunk in self._chunker.push(block):
                yield chunk
        for chunk in self._chunker.flush():
            yield chunk

    async def close(self) -> None:
        self.end()
