"""FileSource: any file PyAV can decode (on disk, or finished behind http), paced by the clock.

The container is opened and probed in the constructor, so a missing, empty or
unreadable file fails before the pipeline starts. A URL is a file when its length
is known (`network.open_url`); a live stream is refused here (`StreamSource` reads it). Decoding is incremental: each
batch of packets is decoded in a worker thread and resampled with a streaming
resampler, so a long file is never held whole in memory. A decode error mid-file
is raised only after everything decoded before it has been yielded.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import numpy as np

from ..config import SourceConfig
from ..errors import AudioInputError
from ..events import AudioChunk
from ..stage import Clock
from .convert import RATE, Chunker, Resampler, downmix
from .network import open_url, read_reason
from .urls import is_url, mask_url

__all__ = ["FileSource", "frame_to_mono", "open_file"]

_BATCH_SECONDS = 1.0  # audio decoded per worker-thread hop
_INT_SCALE = {np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31, np.dtype(np.int64): 2.0**63}


def frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Any sample format and layout → mono float32 at the frame's own rate."""
    data = frame.to_ndarray()
    channels = frame.layout.nb_channels
    # Planar frames come as (channels, n), packed ones as (1, n * channels).
    block = data.T if frame.format.is_planar else data.reshape(-1, channels)
    if block.dtype == np.uint8:
        block = (block.astype(np.float32) - 128.0) / 128.0
    elif block.dtype in _INT_SCALE:
        block = (block / _INT_SCALE[block.dtype]).astype(np.float32)
    return downmix(block)


def _open_reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, av.InvalidDataError):
        return "not a recognised audio or video format, or the file is corrupt"
    return getattr(exc, "strerror", None) or str(exc)


def open_file(path: Path) -> av.container.InputContainer:
    """Open a local file; AudioInputError for a missing, empty or unreadable one."""

    def error(reason: str) -> AudioInputError:
        return AudioInputError(f"cannot read audio from {path}: {reason}")

    if path.is_dir():
        raise error("it is a directory")
    if path.is_file() and path.stat().st_size == 0:
        raise error("the file is empty")
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise error(_open_reason(exc)) from None


class _Decoder:
    """The synchronous core: an open container read one batch at a time.

    `read()` runs in a worker thread; a lock keeps `close()` from freeing the
    container under a decode in flight. `label` names the input in messages (a
    path, or a URL with its credentials masked).
    """

    def __init__(self, container: av.container.InputContainer, label: str) -> None:
        self.label = label
        self._lock = threading.Lock()
        self._container: av.container.InputContainer | None = container
        audio = container.streams.audio
        if not audio:
            container.close()
            raise self.error("it has no audio stream")
        self._packets: Iterator[av.Packet] = container.demux(audio[0])
        self._resampler: Resampler | None = None
        self.produced = 0  # 16 kHz samples returned so far
        self.done = False
        self.failure: str | None = None  # why reading stopped early, in words

    def error(self, reason: str) -> AudioInputError:
        return AudioInputError(f"cannot read audio from {self.label}: {reason}")

    def read(self, want: int) -> tuple[np.ndarray, AudioInputError | None]:
        """At least `want` samples (fewer at the end), and the error that ended the file, if any."""
        with self._lock:
            out: list[np.ndarray] = []
            failure = None
            try:
                self._decode_into(out, want)
            except (av.FFmpegError, OSError, ValueError) as exc:
                failure = self.failure = read_reason(exc)
                self.done = True
            if self.done and self._resampler is not None:
                out.append(self._resampler.flush())
                self._resampler = None
            samples = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
            self.produced += len(samples)
            if failure is None:
                return samples, None
            at = self.produced / RATE
            return samples, self.error(
                f"decoding failed after {at:.2f} s: {failure} (truncated or corrupt file?)"
            )

    def _decode_into(self, out: list[np.ndarray], want: int) -> None:
        got = 0
        while got < want and not self.done:
            packet = next(self._packets, None) if self._container is not None else None
            if packet is None:
                self.done = True
                return
            for frame in packet.decode():
                if self._resampler is None or self._resampler.rate != frame.sample_rate:
                    if self._resampler is not None:  # the rate changed mid-stream
                        out.append(self._resampler.flush())
                    self._resampler = Resampler(frame.sample_rate)
                samples = self._resampler.push(frame_to_mono(frame))
                out.append(samples)
                got += len(samples)

    def close(self) -> None:
        with self._lock:
            self.done = True
            if self._container is not None:
                self._container.close()
                self._container = None


class FileSource:
    """Decodes the first audio stream of a file (a video file is fine) to 16 kHz mono.

    `path` is a local path or the URL of a finished file; `opened` is the container
    when the caller has opened it already (`open_source` does, to tell live from file).
    """

    live = False

    def __init__(
        self,
        path: str | Path,
        *,
        stream: str,
        config: SourceConfig,
        opened: av.container.InputContainer | None = None,
    ) -> None:
        self.path = path if is_url(path) else Path(path)
        self.stream = stream
        self._chunk_seconds = config.chunk_seconds
        label = mask_url(self.path) if isinstance(self.path, str) else str(self.path)
        if opened is None:
            opened = _open(self.path, config, label)
        self._decoder = _Decoder(opened, label)  # raises AudioInputError before anything starts
        # Decode the first packets now too, so a stream that cannot be decoded at all fails here.
        self._first: tuple[np.ndarray, AudioInputError | None] | None = self._decoder.read(1)
        samples, error = self._first
        if not len(samples):
            self._decoder.close()
            raise error or self._decoder.error("it contains no decodable audio")

    async def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]:
        chunker = Chunker(self.stream, self._chunk_seconds)
        batch = max(chunker.size, round(_BATCH_SECONDS * RATE))
        while self._first is not None or not self._decoder.done:
            if self._first is not None:
                (samples, error), self._first = self._first, None
            else:
                samples, error = await asyncio.to_thread(self._decoder.read, batch)
            ready = chunker.push(samples)
            if self._decoder.done:
                ready += chunker.flush()
            for chunk in ready:
                await clock.sleep_until(chunk.end)
                yield chunk
            if error is not None:
                await self.close()
                raise error
        await self.close()

    async def close(self) -> None:
        await asyncio.to_thread(self._decoder.close)


def _open(path: str | Path, config: SourceConfig, label: str) -> av.container.InputContainer:
    if isinstance(path, Path):
        return open_file(path)
    container, live = open_url(path, config)
    if live:
        container.close()
        raise AudioInputError(
            f"cannot read {label} as a file: it is a live stream (no end); "
            "read it live with rtt translate, rtt live --input or rtt client"
        )
    return container
