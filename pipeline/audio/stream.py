"""StreamSource: a live network stream, read as it arrives and reconnected when it drops.

A reader thread owns the connection: it decodes packets as they come (a live
sender cannot be held back) and posts 16 kHz blocks to the event loop. When the
stream drops (an error, no data for `config.timeout` seconds, or its end), the
thread reconnects with backoff (`ReconnectPolicy`) for up to `config.reconnect`
seconds. Meanwhile `chunks()` hands out silence in the stream's place
(`Outage`), so the stream clock keeps running, the VAD ends the utterance the
drop cut, and its words are committed; each drop and return is logged (warning,
logger `pipeline.audio.stream`, credentials masked) and counted (`drops`,
`reconnects`, `gap_seconds`).

Pacing: every chunk waits for `clock.sleep_until(chunk.end)`, so a burst (an HLS
segment, a backlog on connect) is never passed on faster than real time, and
audio that arrives late is passed on at once. A connection opened (to fail early)
more than `_STALE` seconds before reading starts, while the models loaded, is
reopened, so the stream starts at its live edge rather than a backlog behind it. A backlog beyond `_MAX_BACKLOG`
seconds (the pipeline stalled) drops the oldest-arriving blocks, counted in `dropped`.

The reader thread is a daemon and may be blocked in a read when `close()` is
called; it closes its container when the read returns (at most `config.timeout`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import av
import numpy as np

from ..config import SourceConfig
from ..errors import AudioInputError
from ..events import AudioChunk
from ..stage import Clock
from .convert import RATE, Chunker
from .file import _Decoder
from .network import open_url, read_reason
from .reconnect import Outage, ReconnectPolicy
from .urls import mask_url

__all__ = ["StreamSource"]

log = logging.getLogger(__name__)

_MAX_BACKLOG = 30.0  # seconds of audio waiting for the pipeline before blocks are dropped
_TICK = 0.1  # seconds between silence fills while the stream is away
_STALE = 2.0  # opened this long before reading starts (models loading): reopen at the live edge

Opener = Callable[[], tuple[av.container.InputContainer, bool]]  # (container, live)


@dataclass(frozen=True, slots=True)
class _Lost:
    reason: str
    at: float  # wall time of the drop


@dataclass(frozen=True, slots=True)
class _Back:
    attempts: int
    at: float  # wall time the stream answered again


@dataclass(frozen=True, slots=True)
class _Over:
    error: AudioInputError | None  # None: the stream ended (or the source was closed)


class StreamSource:
    """A live stream by URL (rtsp, rtmp, udp, live http/HLS), to 16 kHz mono."""

    live = True

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        config: SourceConfig,
        opened: av.container.InputContainer | None = None,
        opener: Opener | None = None,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.label = mask_url(url)
        self.stream = stream
        self.drops = 0
        self.reconnects = 0
        self.gap_seconds = 0.0  # silence that stood in for the stream while it was away
        self.dropped = 0.0  # seconds of audio discarded because the pipeline fell behind
        self._config = config
        self._policy = ReconnectPolicy(window=config.reconnect)
        self._open = opener or (lambda: open_url(url, config))
        self._time = time_fn
        self._stop = threading.Event()
        self._queue: asyncio.Queue[np.ndarray | _Lost | _Back | _Over] = asyncio.Queue()
        self._backlog = 0  # samples queued
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._decoder = _Decoder(opened if opened is not None else self._open()[0], self.label)
        self._first, error = self._decoder.read(1)  # fails here if nothing decodes
        self._opened_at = time_fn()
        if not len(self._first):
            self._decoder.close()
            raise error or self._decoder.error("the stream contains no decodable audio")

    # -- the reader thread ------------------------------------------------------
    def _post(self, item: np.ndarray | _Lost | _Back | _Over) -> None:
        loop = self._loop
        if loop is None or self._stop.is_set() and not isinstance(item, _Over):
            return
        try:
            loop.call_soon_threadsafe(self._deliver, item)
        except RuntimeError:  # the loop is closed
            self._stop.set()

    def _deliver(self, item: np.ndarray | _Lost | _Back | _Over) -> None:
        if isinstance(item, np.ndarray):
            if self._backlog + len(item) > _MAX_BACKLOG * RATE:
                self.dropped += len(item) / RATE
                return
            self._backlog += len(item)
        self._queue.put_nowait(item)

    def _read_loop(self, stale: bool) -> None:
        decoder: _Decoder | None = self._decoder
        block = max(1, round(self._config.chunk_seconds * RATE))
        try:
            if stale:
                decoder = self._reopen(decoder)
            while decoder is not None and not self._stop.is_set():
                samples, _ = decoder.read(block)
                if len(samples):
                    self._post(samples)
                if not decoder.done:
                    continue
                reason = decoder.failure or "the stream ended"
                ended = decoder.failure is None
                decoder.close()
                decoder = None
                if self._stop.is_set():
                    break
                self._post(_Lost(reason, self._time()))
                decoder = self._reconnect(reason, ended)
        except Exception as exc:  # a bug, not the network: end with an error, not silently
            self._post(_Over(AudioInputError(f"reading {self.label} failed: {read_reason(exc)}")))
        finally:
            if decoder is not None:
                decoder.close()
            self._post(_Over(None))

    def _reopen(self, decoder: _Decoder) -> _Decoder:
        """A fresh connection instead of one that sat idle since it was opened: a live
        stream starts at its live edge, not behind an old backlog held for ever after.
        A server that takes one client at a time refuses it: the old one goes on."""
        try:
            container, live = self._open()
        except AudioInputError as exc:
            log.debug("%s: reopening at the live edge failed (%s)", self.label, exc)
            return decoder
        if not live:
            container.close()
            return decoder
        decoder.close()
        return _Decoder(container, self.label)

    def _reconnect(self, reason: str, ended: bool) -> _Decoder | None:
        """A new decoder once the stream answers again; None when given up or closed."""
        began, attempt = self._time(), 0
        while True:
            attempt += 1
            delay = self._policy.delay(attempt, self._time() - began)
            if delay is None:
                # An end, or a drop with reconnection off, ends the input; a drop that
                # outlasts the window is an error.
                quiet = ended or self._config.reconnect <= 0
                self._post(_Over(None if quiet else self._lost(reason)))
                return None
            if self._stop.wait(delay):
                return None
            try:
                container, live = self._open()
            except AudioInputError as exc:
                log.debug("%s: attempt %d failed: %s", self.label, attempt, exc)
                continue
            if not live:  # e.g. a live HLS playlist that got its end: the broadcast is over
                container.close()
                log.warning("%s has ended: it is now a finished recording", self.label)
                self._post(_Over(None))
                return None
            decoder = _Decoder(container, self.label)
            self._post(_Back(attempt, self._time()))
            return decoder

    def _lost(self, reason: str) -> AudioInputError:
        return AudioInputError(
            f"lost {self.label} ({reason}), and it did not come back within "
            f"{self._config.reconnect:g} s"
        )

    # -- the event loop side ----------------------------------------------------
    async def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]:
        chunker = Chunker(self.stream, self._config.chunk_seconds)
        self._loop = asyncio.get_running_loop()
        stale = self._time() - self._opened_at > _STALE
        self._thread = threading.Thread(
            target=self._read_loop, args=(stale,), daemon=True, name=f"stream-{self.stream}"
        )
        self._thread.start()
        outage: Outage | None = None
        item: np.ndarray | _Lost | _Back | _Over | None = None if stale else self._first
        try:
            while True:
                if item is None:
                    try:
                        async with asyncio.timeout(_TICK if outage is not None else None):
                            item = await self._queue.get()
                    except TimeoutError:
                        item = None
                samples, over = self._take(item, outage, chunker)
                if isinstance(item, _Lost):
                    outage = Outage(began=item.at, at=chunker.time, reason=item.reason)
                elif isinstance(item, (_Back, _Over)):
                    outage = None
                item = None
                for chunk in chunker.push(samples) + (chunker.flush() if over else []):
                    await clock.sleep_until(chunk.end)
                    yield chunk
                if over is not None:
                    if over.error is not None:
                        raise over.error
                    return
        finally:
            await self.close()

    def _take(
        self, item: object, outage: Outage | None, chunker: Chunker
    ) -> tuple[np.ndarray, _Over | None]:
        """The samples an item stands for (audio, or silence for the stream's absence)."""
        if isinstance(item, np.ndarray):
            self._backlog -= len(item) if item is not self._first else 0
            return item, None
        if isinstance(item, _Lost):
            self.drops += 1
            retry = (
                f"reconnecting for up to {self._config.reconnect:g} s"
                if self._config.reconnect > 0
                else "reconnection is off: the input ends"
            )
            log.warning(
                "%s dropped at %.1f s (%s); %s", self.label, chunker.time, item.reason, retry
            )
            return _silence(0), None
        if outage is None:
            return _silence(0), item if isinstance(item, _Over) else None
        now = item.at if isinstance(item, _Back) else self._time()
        due = outage.fill(now, over=item is not None)
        self.gap_seconds += due / RATE
        if isinstance(item, _Back):
            self.reconnects += 1
            log.warning(
                "%s reconnected after %.1f s (%d attempt%s); %.1f s of silence stand in for the gap",
                self.label,
                now - outage.began,
                item.attempts,
                "" if item.attempts == 1 else "s",
                outage.silence,
            )
        return _silence(due), item if isinstance(item, _Over) else None

    async def close(self) -> None:
        """Stop reading; a read in flight finishes in the reader thread, which then closes."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is None:  # never started: nothing reads the decoder
            await asyncio.to_thread(self._decoder.close)


def _silence(samples: int) -> np.ndarray:
    return np.zeros(samples, dtype=np.float32)
