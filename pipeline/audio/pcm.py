"""PcmSource: raw PCM16LE on a binary stream (stdin), to 16 kHz mono.

The producer paces the data, so chunks are yielded as they arrive and the clock is
never slept on. Reads run on a daemon thread rather than `asyncio.to_thread`: a
read blocked on a quiet stdin must not keep the process from exiting (the default
executor is joined at shutdown). A bounded queue carries blocks to the event loop,
so a fast producer (`cat big.raw |`) is held back instead of buffered whole.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator
from typing import BinaryIO

from ..config import SourceConfig
from ..errors import AudioInputError, ConfigError
from ..events import AudioChunk
from ..stage import Clock
from .convert import Chunker, Resampler, pcm16_to_float

__all__ = ["PcmSource"]

_QUEUE_BLOCKS = 8  # read-ahead, in reads of about one chunk each


class PcmSource:
    """Interleaved signed 16-bit little-endian PCM at `config.rate` with `config.channels`."""

    def __init__(self, binary_stream: BinaryIO, *, stream: str, config: SourceConfig) -> None:
        if config.channels < 1:
            raise ConfigError(f"raw PCM needs at least one channel, not {config.channels}")
        self.stream = stream
        self._input = binary_stream
        self._channels = config.channels
        self._frame_bytes = 2 * config.channels
        self._chunk_seconds = config.chunk_seconds
        self._read_size = self._frame_bytes * max(1, round(config.chunk_seconds * config.rate))
        self._resampler = Resampler(config.rate)
        self._queue: asyncio.Queue[bytes | Exception] | None = None
        self._closed = False

    async def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]:
        chunker = Chunker(self.stream, self._chunk_seconds)
        self._queue = asyncio.Queue(maxsize=_QUEUE_BLOCKS)
        reader = threading.Thread(
            target=self._read_loop,
            args=(asyncio.get_running_loop(), self._queue),
            daemon=True,
            name=f"pcm-{self.stream}",
        )
        reader.start()
        carry = b""  # a partial sample frame waiting for its other bytes
        while not self._closed:
            block = await self._queue.get()
            if isinstance(block, Exception):
                raise AudioInputError(f"cannot read raw PCM input: {block}")
            if not block:
                break
            data = carry + block
            whole = len(data) - len(data) % self._frame_bytes
            carry = data[whole:]
            for chunk in chunker.push(
                self._resampler.push(pcm16_to_float(data[:whole], self._channels))
            ):
                yield chunk
        for chunk in chunker.push(self._resampler.flush()) + chunker.flush():
            yield chunk
        if carry:
            raise AudioInputError(
                f"raw PCM input ended with {len(carry)} stray byte(s), not a whole sample frame "
                f"({self._frame_bytes} bytes: 16-bit x {self._channels} channel(s)); the input was cut short"
            )

    def _read_loop(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        read = getattr(self._input, "read1", None) or self._input.read
        while not self._closed:
            try:
                block: bytes | Exception = read(self._read_size) or b""
            except (OSError, ValueError) as exc:  # ValueError: the stream was closed
                block = exc
            try:
                # Blocks this thread while the queue is full: backpressure on the producer.
                asyncio.run_coroutine_threadsafe(queue.put(block), loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):
                return  # the event loop is gone
            if not isinstance(block, bytes) or not block:
                return

    async def close(self) -> None:
        """Stop reading; the binary stream belongs to the caller and stays open.

        (Closing stdin under a read blocked in the reader thread would wait on that read.)
        """
        self._closed = True
        if self._queue is not None:
            try:
                self._queue.put_nowait(b"")  # wakes `chunks()` if it waits for data
            except asyncio.QueueFull:
                pass
