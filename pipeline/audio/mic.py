"""MicSource: a microphone through PortAudio (sounddevice), to 16 kHz mono.

The device `monitor[:NAME]` is the computer's own sound instead (a PulseAudio/PipeWire
monitor source, `monitor.py`), driven through the same `MicStream` interface.

PortAudio calls back on its own thread with blocks at the device's native rate;
the callback copies each block and hands it to the event loop with
`call_soon_threadsafe`. The microphone paces itself, so the clock is never slept on.
Lost audio is never silent: `overflows` counts blocks PortAudio flagged as input
overflow, `dropped` counts blocks discarded because the pipeline fell behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from ..config import SourceConfig
from ..errors import AudioInputError
from ..events import AudioChunk
from ..stage import Clock
from .convert import Chunker, Resampler, downmix
from .monitor import is_monitor_spec, open_monitor_stream

__all__ = [
    "InputDevice",
    "MicSource",
    "MicStream",
    "StreamFactory",
    "list_input_devices",
    "open_input_stream",
    "open_portaudio_stream",
]

_STALL_SECONDS = 2.0  # no audio for this long: check the stream is still running
_MAX_BACKLOG = 500  # blocks waiting for the pipeline (~10 s at typical block sizes) before dropping
_DEVICES_HINT = "`rtt devices` lists the input devices"
_NO_PORTAUDIO = (
    "microphone input needs the PortAudio library, which was not found ({}); "
    "install it (Debian/Ubuntu: apt-get install libportaudio2), or read a file or stdin instead"
)


@dataclass(frozen=True, slots=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_rate: float
    is_default: bool


class MicStream(Protocol):
    """What MicSource needs of a `sounddevice.InputStream` (and what a test fake provides)."""

    samplerate: float
    channels: int

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


# (device, callback(indata, frames, time, status)) -> an unstarted stream
StreamFactory = Callable[[int | str | None, Callable[..., None]], MicStream]


def _import_sounddevice() -> ModuleType:
    try:
        import sounddevice
    except OSError as exc:  # the module loads libportaudio when imported
        raise AudioInputError(_NO_PORTAUDIO.format(exc)) from None
    except ImportError:
        raise AudioInputError(
            "microphone input needs the sounddevice package: pip install sounddevice"
        ) from None
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """The devices that can record, for `rtt devices`."""
    sd = _import_sounddevice()
    try:
        devices = list(sd.query_devices())
        default = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise AudioInputError(f"cannot list audio devices: {exc}") from None
    return [
        InputDevice(
            index=d.get("index", i),
            name=d["name"],
            channels=d["max_input_channels"],
            default_rate=float(d["default_samplerate"]),
            is_default=d.get("index", i) == default,
        )
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


def _parse_device(spec: str | None) -> int | str | None:
    """A configured device: an index ("3") or a name (substrings, as sounddevice matches them)."""
    if spec is None or not str(spec).strip():
        return None
    spec = str(spec).strip()
    return int(spec) if spec.isdigit() else spec


def open_portaudio_stream(device: int | str | None, callback: Callable[..., None]) -> MicStream:
    """The default StreamFactory: a mono float32 `sounddevice.InputStream` at the device's own rate."""
    sd = _import_sounddevice()
    what = "the default microphone" if device is None else f"microphone {device!r}"
    try:
        info = sd.query_devices(device, "input")
    except ValueError as exc:  # no match, several matches
        raise AudioInputError(f"cannot use {what}: {exc}; {_DEVICES_HINT}") from None
    except sd.PortAudioError:  # no default input device, or an index out of range
        raise AudioInputError(f"cannot use {what}: no such input device; {_DEVICES_HINT}") from None
    if info["max_input_channels"] < 1:
        raise AudioInputError(f"cannot use {what}: {info['name']!r} cannot record; {_DEVICES_HINT}")
    try:
        return sd.InputStream(
            device=info["index"],
            channels=1,
            dtype="float32",
            samplerate=info["default_samplerate"],
            callback=callback,
        )
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioInputError(
            f"cannot open {what} ({info['name']!r}): {exc}; {_DEVICES_HINT}"
        ) from None


def open_input_stream(device: int | str | None, callback: Callable[..., None]) -> MicStream:
    """The default StreamFactory: a monitor source for `monitor[:NAME]`, else PortAudio."""
    if is_monitor_spec(device):
        return open_monitor_stream(str(device), callback)
    return open_portaudio_stream(device, callback)


class MicSource:
    def __init__(
        self, *, stream: str, config: SourceConfig, stream_factory: StreamFactory | None = None
    ) -> None:
        self.stream = stream
        self.overflows = 0
        self.dropped = 0
        self._chunk_seconds = config.chunk_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._closed = False
        # Opened (not started) now, so a missing or bad device fails before the pipeline starts.
        self._mic = (stream_factory or open_input_stream)(
            _parse_device(config.input_device), self._callback
        )
        self._resampler = Resampler(int(round(self._mic.samplerate)))

    def _callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """On PortAudio's thread: copy the block (its buffer is reused) and pass it on."""
        loop = self._loop
        if loop is None or self._closed:
            return
        block = downmix(indata).copy()
        overflowed = bool(getattr(status, "input_overflow", False))
        try:
            loop.call_soon_threadsafe(self._deliver, block, overflowed)
        except RuntimeError:  # the loop closed under a running stream
            pass

    def _deliver(self, block: np.ndarray, overflowed: bool) -> None:
        self.overflows += overflowed
        if self._closed:
            return
        if self._queue.qsize() >= _MAX_BACKLOG:
            self.dropped += 1
            return
        self._queue.put_nowait(block)

    async def chunks(self, clock: Clock) -> AsyncIterator[AudioChunk]:
        chunker = Chunker(self.stream, self._chunk_seconds)
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._mic.start)
        except Exception as exc:  # PortAudioError: the device went away or is busy
            raise AudioInputError(f"cannot start the microphone: {exc}; {_DEVICES_HINT}") from None
        stalled = False
        while not stalled:
            try:
                # not wait_for: on Python 3.11 it swallows a cancel (end of input) that
                # arrives as a block does, and the source then never ends
                async with asyncio.timeout(_STALL_SECONDS):
                    block = await self._queue.get()
            except TimeoutError:
                stalled = not getattr(self._mic, "active", True)  # else just a slow device
                continue
            if block is None:
                break
            for chunk in chunker.push(self._resampler.push(block)):
                yield chunk
        for chunk in chunker.push(self._resampler.flush()) + chunker.flush():
            yield chunk
        if stalled:
            raise AudioInputError("the microphone stopped delivering audio (was it unplugged?)")

    async def close(self) -> None:
        """Stop and release the device; `chunks()` then yields what it holds and ends."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        await asyncio.to_thread(self._release)

    def _release(self) -> None:
        try:
            self._mic.stop()
        finally:
            self._mic.close()
