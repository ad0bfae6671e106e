"""A whole file in memory, its speech segments (Silero VAD) and the ASR windows over them.

The offline path sees the whole file, so VAD runs once over all of it (faster-whisper's
`get_speech_timestamps`, the Silero v6 model it ships) instead of frame by frame. Segments
are the utterances of the event stream; neighbouring segments are grouped into windows of
up to Whisper's 30 s, the unit of batched decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.convert import RATE
from ..audio.file import FileSource
from ..config import SourceConfig
from .config import OfflineConfig

__all__ = ["RATE", "SpeechSegment", "Window", "asr_windows", "read_audio", "speech_segments"]


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    """One stretch of speech, in seconds of the file."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Window:
    """Consecutive segments decoded together as one Whisper window."""

    start: float
    end: float
    segments: tuple[SpeechSegment, ...]


class _Immediate:
    """A clock that never waits: the offline path reads as fast as it decodes."""

    def now(self) -> float:
        return 0.0

    async def sleep_until(self, t: float) -> None:
        return None


async def read_audio(path: Path, *, stream: str = "batch") -> np.ndarray:
    """The first audio stream of any file PyAV decodes, as 16 kHz mono float32.

    Raises `AudioInputError` for a missing, unreadable or truncated file (a file
    that fails halfway is an error here: a partial transcript is not a result).
    """
    source = FileSource(path, stream=stream, config=SourceConfig(realtime=False, chunk_seconds=1.0))
    parts = [chunk.samples async for chunk in source.chunks(_Immediate())]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def speech_segments(audio: np.ndarray, config: OfflineConfig) -> list[SpeechSegment]:
    """Silero VAD over the whole file; no segment is longer than `max_window`."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if not len(audio):
        return []
    options = VadOptions(
        threshold=config.vad_threshold,
        min_silence_duration_ms=int(config.min_silence * 1000),
        speech_pad_ms=int(config.speech_pad * 1000),
        max_speech_duration_s=config.max_window,
        min_speech_duration_ms=200,
    )
    found = get_speech_timestamps(audio, options, sampling_rate=RATE)
    duration = len(audio) / RATE
    return [
        SpeechSegment(
            round(max(0.0, s["start"] / RATE), 3), round(min(duration, s["end"] / RATE), 3)
        )
        for s in found
        if s["end"] > s["start"]
    ]


def asr_windows(segments: Sequence[SpeechSegment], config: OfflineConfig) -> list[Window]:
    """Group consecutive segments while the window stays within `max_window` seconds and
    no silence inside it is longer than `window_gap` (long silence invites hallucination)."""
    windows: list[list[SpeechSegment]] = []
    for segment in segments:
        current = windows[-1] if windows else None
        if (
            current is None
            or segment.end - current[0].start > config.max_window
            or segment.start - current[-1].end > config.window_gap
        ):
            windows.append([segment])
        else:
            current.append(segment)
    return [Window(w[0].start, w[-1].end, tuple(w)) for w in windows]
