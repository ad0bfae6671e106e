"""Audio sources: files through PyAV, raw PCM on a stream, the microphone with a fake stream."""

from __future__ import annotations

import asyncio
import builtins
import io
import os
import sys
import threading
import types
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.audio import (
    FileSource,
    InputDevice,
    MicSource,
    PcmSource,
    list_input_devices,
    open_source,
)
from pipeline.config import SourceConfig
from pipeline.errors import AudioInputError

RATE = 16000
CONFIG = SourceConfig()  # 0.1 s chunks


class FakeClock:
    """Records every `sleep_until` and returns at once."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def now(self) -> float:
        return self.times[-1] if self.times else 0.0

    async def sleep_until(self, t: float) -> None:
        self.times.append(t)


async def collect(source, clock=None) -> tuple[list, Exception | None]:
    chunks, error = [], None
    try:
        async for chunk in source.chunks(clock or FakeClock()):
            chunks.append(chunk)
    except AudioInputError as exc:
        error = exc
    return chunks, error


def samples_of(chunks) -> np.ndarray:
    return np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0, np.float32)


def sine(rate: int, seconds: float, amplitude: float = 0.3, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, channels: list[np.ndarray], rate: int) -> Path:
    pcm = (np.stack(channels, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_av(path: Path, codec: str, rate: int, seconds: float = 1.0, video: bool = False) -> Path:
    """Encode a stereo sine with PyAV (and optionally a tiny video stream alongside)."""
    x = sine(rate, seconds)
    with av.open(str(path), "w") as out:
        audio = out.add_stream(codec, rate=rate, layout="stereo")
        if video:
            picture = out.add_stream("mpeg4", rate=10)
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            for i in range(round(seconds * 10)):
                frame.pts = i
                out.mux(picture.encode(frame))
            out.mux(picture.encode(None))
        fmt = audio.codec_context.codec.audio_formats[0]
        step = 1152
        for i in range(0, len(x), step):
            block = np.stack([x[i : i + step]] * 2)
            data = block if fmt.is_planar else block.T.reshape(1, -1)
            if fmt.name.startswith("s16"):
                data = (data * 32767).astype(np.int16)
            elif fmt.name.startswith("s32"):
                data = (data * 2**31).astype(np.int32)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data), format=fmt.name, layout="stereo"
            )
            frame.sample_rate, frame.pts = rate, i
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


# --- FileSource -----------------------------------------------------------------


async def test_wav_44k_stereo_comes_out_16k_mono_in_paced_chunks(tmp_path):
    left, right = sine(44100, 2.0, 0.4), sine(44100, 2.0, 0.2)
    path = write_wav(tmp_path / "stereo.wav", [left, right], 44100)
    clock = FakeClock()
    chunks, error = await collect(FileSource(path, stream="s0", config=CONFIG), clock)
    assert error is None
    audio = samples_of(chunks)
    assert audio.dtype == np.float32 and abs(len(audio) - 2 * RATE) <= 2
    assert all(len(c.samples) == 1600 for c in chunks[:-1]) and all(
        c.stream == "s0" and c.utterance == 0 for c in chunks
    )
    assert [c.start for c in chunks] == pytest.approx([i * 0.1 for i in range(len(chunks))])
    assert clock.times == pytest.approx(
        [c.end for c in chunks]
    )  # each chunk waits for its end time
    # Downmixed by averaging: 0.3 amplitude, rms 0.3/sqrt(2) (away from the edges).
    assert np.sqrt(np.mean(audio[1600:-1600] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


@pytest.mark.parametrize(
    "name, codec, rate, video",
    [
        ("a.mp3", "libmp3lame", 44100, False),
        ("a.ogg", "libopus", 48000, False),
        ("a.flac", "flac", 22050, False),
        ("a.mp4", "aac", 44100, True),
    ],
)
async def test_compressed_and_video_files_decode(tmp_path, name, codec, rate, video):
    path = write_av(tmp_path / name, codec, rate, seconds=1.0, video=video)
    chunks, error = await collect(FileSource(path, stream="s", config=CONFIG))
    audio = samples_of(chunks)
    assert error is None
    assert len(audio) / RATE == pytest.approx(1.0, abs=0.08)  # codec priming/padding aside
    assert np.sqrt(np.mean(audio[RATE // 4 : RATE * 3 // 4] ** 2)) == pytest.approx(
        0.3 / np.sqrt(2), rel=0.1
    )


def _file(name: str, data: bytes | str):
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    return make


_noise = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()


def _header_then_noise(tmp: Path) -> Path:
    whole = write_av(tmp / "whole.flac", "flac", 16000, seconds=0.5).read_bytes()
    path = tmp / "noise.flac"
    path.write_bytes(whole[:300] + _noise)
    return path


def _video_only(tmp: Path) -> Path:
    path = tmp / "silent.mp4"
    with av.open(str(path), "w") as out:
        picture = out.add_stream("mpeg4", rate=10)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for i in range(5):
            frame.pts = i
            out.mux(picture.encode(frame))
        out.mux(picture.encode(None))
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (_file("noise.mp3", _noise), "not a recognised audio or video format"),
        (_file("empty.wav", b""), "the file is empty"),
        (lambda tmp: tmp / "missing.wav", "no such file"),
        (lambda tmp: tmp, "is a directory"),
        # FFmpeg may read a text file as "tty" art (a video stream): either message is right.
        (
            _file("notes.txt", "not the sounds you are looking for\n" * 20),
            "not a recognised audio or video format|no audio stream",
        ),
        (_file("talk.srt", "1\n00:00:01,000 --> 00:00:02,000\nhello\n"), "no audio stream"),
        (_video_only, "no audio stream"),
        (_header_then_noise, "no decodable audio"),
    ],
)
def test_unreadable_files_fail_before_the_pipeline_starts(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(AudioInputError, match=reason) as info:
        FileSource(path, stream="s", config=CONFIG)
    assert str(info.value).startswith(f"cannot read audio from {path}: ")


async def test_truncated_file_yields_what_it_could_then_raises(tmp_path):
    whole = write_av(tmp_path / "whole.flac", "flac", 44100, seconds=3.0)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    chunks, error = await collect(FileSource(cut, stream="s", config=CONFIG))
    assert isinstance(error, AudioInputError)
    assert "truncated or corrupt" in str(error) and str(cut) in str(error)
    decoded = len(samples_of(chunks)) / RATE
    assert 0.8 < decoded < 2.0
    assert f"after {decoded:.2f} s" in str(error)  # everything decoded before the error was yielded


async def test_close_releases_the_file_and_is_idempotent(tmp_path):
    source = FileSource(
        write_wav(tmp_path / "a.wav", [sine(16000, 1.0)], 16000), stream="s", config=CONFIG
    )
    chunks = source.chunks(FakeClock())
    await anext(chunks)
    await source.close()
    await source.close()
    assert source._decoder._container is None
    await chunks.aclose()


# --- PcmSource ------------------------------------------------------------------


def pcm_bytes(frames: np.ndarray) -> bytes:
    return np.asarray(frames, dtype="<i2").tobytes()


async def test_pcm_mono_16k_samples_and_starts_are_exact():
    ints = (np.arange(4000) % 2000 - 1000).astype(np.int16)
    clock = FakeClock()
    chunks, error = await collect(
        PcmSource(io.BytesIO(pcm_bytes(ints)), stream="in", config=CONFIG), clock
    )
    assert error is None
    np.testing.assert_array_equal(samples_of(chunks), ints / 32768.0)
    assert [c.start for c in chunks] == pytest.approx([0.0, 0.1, 0.2])
    assert [len(c.samples) for c in chunks] == [1600, 1600, 800]
    assert clock.times == []  # the producer paces stdin: never sleep


async def test_pcm_8k_stereo_is_resampled_and_downmixed():
    left, right = sine(8000, 1.0, 0.4, 300), sine(8000, 1.0, 0.2, 300)
    data = pcm_bytes((np.stack([left, right], axis=1) * 32767).reshape(-1))
    config = SourceConfig(rate=8000, channels=2)
    chunks, error = await collect(PcmSource(io.BytesIO(data), stream="in", config=config))
    audio = samples_of(chunks)
    assert error is None and abs(len(audio) - RATE) <= 2
    assert np.sqrt(np.mean(audio[1600:-1600] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


@pytest.mark.parametrize("channels, stray", [(1, 1), (2, 3)])
async def test_pcm_stray_trailing_bytes_fail_after_the_whole_frames(channels, stray):
    data = pcm_bytes(np.ones(1000 * channels) * 1000) + b"\x01" * stray
    config = SourceConfig(channels=channels)
    chunks, error = await collect(PcmSource(io.BytesIO(data), stream="in", config=config))
    assert len(samples_of(chunks)) == 1000
    assert isinstance(error, AudioInputError) and f"{stray} stray byte" in str(error)


async def test_pcm_from_a_pipe_arrives_as_written():
    """A slow producer on a real pipe: frames split across writes are put back together."""
    read_fd, write_fd = os.pipe()
    ints = np.arange(-4000, 4000, dtype=np.int16)
    data = pcm_bytes(ints)

    def produce() -> None:
        with os.fdopen(write_fd, "wb", buffering=0) as w:
            for i in range(0, len(data), 1001):  # odd sizes: sample frames straddle the writes
                w.write(data[i : i + 1001])

    with os.fdopen(read_fd, "rb") as r:
        threading.Thread(target=produce, daemon=True).start()
        source = PcmSource(r, stream="in", config=CONFIG)
        chunks, error = await collect(source)
        await source.close()
    assert error is None
    np.testing.assert_array_equal(samples_of(chunks), ints / 32768.0)


async def test_pcm_close_ends_a_source_waiting_for_data():
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as r, os.fdopen(write_fd, "wb") as w:
        source = PcmSource(r, stream="in", config=CONFIG)
        task = asyncio.create_task(collect(source))
        await asyncio.sleep(0.05)
        await source.close()
        chunks, error = await asyncio.wait_for(task, 2)
        w.write(b"\0\0")  # unblocks the reader thread
    assert chunks == [] and error is None


# --- MicSource ------------------------------------------------------------------


class FakeStream:
    """Calls the callback from its own thread, like PortAudio, then sets `done`."""

    def __init__(
        self, blocks: list[np.ndarray], samplerate: float, callback, overflow_at=()
    ) -> None:
        self.samplerate, self.channels = samplerate, blocks[0].shape[1]
        self.blocks, self.callback, self.overflow_at = blocks, callback, set(overflow_at)
        self.done = threading.Event()
        self.stopped = self.closed = False

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for i, block in enumerate(self.blocks):
            status = types.SimpleNamespace(input_overflow=i in self.overflow_at)
            self.callback(block, len(block), None, status)
            block[:] = 9.0  # PortAudio reuses its buffer: the source must have copied it
        self.done.set()

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


async def test_mic_resamples_counts_overflows_and_releases_the_device():
    tone = sine(48000, 1.0, 0.3)
    stereo = np.stack([tone, tone], axis=1)
    blocks = [stereo[i : i + 480].copy() for i in range(0, len(stereo), 480)]
    made: list[FakeStream] = []

    def factory(device, callback):
        assert device == 2  # "2" in the config is a device index
        made.append(FakeStream(blocks, 48000, callback, overflow_at={3, 7}))
        return made[0]

    mic = MicSource(stream="m", config=SourceConfig(input_device="2"), stream_factory=factory)
    clock = FakeClock()
    task = asyncio.create_task(collect(mic, clock))
    while not made or not made[0].done.is_set():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)  # let the loop run the deliveries
    await mic.close()
    chunks, error = await asyncio.wait_for(task, 2)
    audio = samples_of(chunks)
    assert error is None and abs(len(audio) - RATE) <= 2
    assert np.abs(audio).max() < 0.35  # no reused-buffer garbage (9.0)
    assert [c.start for c in chunks] == pytest.approx([i * 0.1 for i in range(len(chunks))])
    assert mic.overflows == 2 and mic.dropped == 0
    assert made[0].stopped and made[0].closed and clock.times == []


async def test_mic_that_stops_delivering_is_an_error_not_a_hang(monkeypatch):
    monkeypatch.setattr("pipeline.audio.mic._STALL_SECONDS", 0.05)
    block = np.zeros((160, 1), np.float32)
    fake = FakeStream([block], 16000, None)
    fake.active = False  # sounddevice's InputStream.active: False once PortAudio gave up

    def factory(device, callback):
        fake.callback = callback
        return fake

    mic = MicSource(stream="m", config=CONFIG, stream_factory=factory)
    chunks, error = await asyncio.wait_for(collect(mic), 2)
    assert isinstance(error, AudioInputError) and "unplugged" in str(error)
    assert len(samples_of(chunks)) == 160  # what came before is still handed over
    await mic.close()


async def test_mic_ends_when_cancelled_as_a_block_arrives():
    fake = FakeStream([np.zeros((160, 1), np.float32)], 16000, None)
    fake.start = lambda: None  # blocks are handed over by the test

    def factory(device, callback):
        return fake

    mic = MicSource(stream="m", config=CONFIG, stream_factory=factory)
    task = asyncio.create_task(collect(mic))
    await asyncio.sleep(0.05)  # the source now waits for a block
    mic._deliver(
        np.zeros(160, np.float32), False
    )  # a block arrives (the loop's side of the callback)
    task.cancel()  # ... in the same step as the end of input (rtt live's Ctrl-C)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    await mic.close()


def _without_portaudio(monkeypatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_mic_without_portaudio_says_what_to_install(monkeypatch):
    _without_portaudio(monkeypatch)
    for attempt in (lambda: MicSource(stream="m", config=CONFIG), list_input_devices):
        with pytest.raises(AudioInputError, match="apt-get install libportaudio2"):
            attempt()


def _fake_sounddevice(monkeypatch, default_input: int = 1) -> None:
    class PortAudioError(Exception):
        pass

    devices = [
        {"index": 0, "name": "HDMI out", "max_input_channels": 0, "default_samplerate": 48000.0},
        {"index": 1, "name": "USB Mic", "max_input_channels": 1, "default_samplerate": 44100.0},
        {"index": 2, "name": "Webcam Mic", "max_input_channels": 2, "default_samplerate": 32000.0},
    ]

    def query_devices(device=None, kind=None):
        if device is None and kind is None:
            return devices
        device = default_input if device is None else device
        if isinstance(device, str):
            matches = [
                d
                for d in devices
                if device.lower() in d["name"].lower() and d["max_input_channels"]
            ]
            if len(matches) != 1:
                raise ValueError(f"No input device matching {device!r}")
            return matches[0]
        if not 0 <= device < len(devices):
            raise PortAudioError(f"Error querying device {device}")
        return devices[device]

    def input_stream(**kwargs):
        return types.SimpleNamespace(
            samplerate=kwargs["samplerate"], channels=kwargs["channels"], kwargs=kwargs
        )

    module = types.SimpleNamespace(
        PortAudioError=PortAudioError,
        query_devices=query_devices,
        InputStream=input_stream,
        default=types.SimpleNamespace(device=[default_input, 0]),
    )
    monkeypatch.setitem(sys.modules, "sounddevice", module)


def test_list_input_devices(monkeypatch):
    _fake_sounddevice(monkeypatch)
    assert list_input_devices() == [
        InputDevice(index=1, name="USB Mic", channels=1, default_rate=44100.0, is_default=True),
        InputDevice(index=2, name="Webcam Mic", channels=2, default_rate=32000.0, is_default=False),
    ]


@pytest.mark.parametrize(
    "device, default_input, reason",
    [
        ("Nonexistent", 1, "No input device matching"),
        (None, -1, "no such input device"),
        ("0", 1, "cannot record"),
        ("9", 1, "no such input device"),
    ],
)
def test_mic_bad_device_points_to_rtt_devices(monkeypatch, device, default_input, reason):
    _fake_sounddevice(monkeypatch, default_input)
    with pytest.raises(AudioInputError, match=reason) as info:
        MicSource(stream="m", config=SourceConfig(input_device=device))
    assert "rtt devices" in str(info.value)


def test_mic_opens_the_device_at_its_native_rate(monkeypatch):
    _fake_sounddevice(monkeypatch)
    mic = MicSource(stream="m", config=SourceConfig(input_device="webcam"))
    assert mic._mic.kwargs["device"] == 2 and mic._mic.kwargs["samplerate"] == 32000.0
    assert mic._mic.kwargs["channels"] == 1 and mic._resampler.rate == 32000


# --- open_source ----------------------------------------------------------------


def test_open_source_dispatches_on_the_spec(tmp_path, monkeypatch):
    wav = write_wav(tmp_path / "a.wav", [sine(16000, 0.2)], 16000)
    assert isinstance(open_source(str(wav), stream="s", config=CONFIG), FileSource)
    assert isinstance(open_source("-", stream="s", config=CONFIG, stdin=io.BytesIO()), PcmSource)
    _fake_sounddevice(monkeypatch)
    assert isinstance(open_source("mic", stream="s", config=CONFIG), MicSource)
    with pytest.raises(AudioInputError, match="no such file"):
        open_source(str(tmp_path / "nope.flac"), stream="s", config=CONFIG)
