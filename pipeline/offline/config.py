"""Settings of the offline (whole-file) path: one frozen dataclass per concern."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

__all__ = ["OfflineConfig", "SubtitleLimits"]


@dataclass(frozen=True, slots=True)
class SubtitleLimits:
    """Cue shape, after common broadcast guidelines (e.g. Netflix/BBC: 42 chars, 2 lines)."""

    max_line: int = 42  # characters per line
    max_lines: int = 2
    min_duration: float = 1.0  # seconds a cue stays up, when the next cue leaves room
    max_duration: float = 7.0
    max_cps: float = 17.0  # reading speed: a cue is held long enough to read at this rate
    split_pause: float = 1.0  # a pause this long inside a sentence starts a new cue
    gap: float = 0.04  # kept between consecutive cues (one frame at 25 fps)

    @property
    def max_chars(self) -> int:
        return self.max_line * self.max_lines

    def check(self) -> None:
        if self.max_line < 10 or self.max_lines < 1:
            raise ConfigError("subtitle lines need at least 10 characters and 1 line")
        if not 0 < self.min_duration <= self.max_duration:
            raise ConfigError("subtitle durations need 0 < min_duration <= max_duration")


@dataclass(frozen=True, slots=True)
class OfflineConfig:
    # VAD (Silero over the whole file)
    vad_threshold: float = 0.5
    min_silence: float = 0.5  # silence that ends a speech segment (an utterance)
    speech_pad: float = 0.2  # audio kept on each side of a segment
    # ASR: segments are grouped into windows of up to Whisper's 30 s and decoded in batches
    max_window: float = 30.0
    window_gap: float = 3.0  # a longer silence starts a new window
    beam_size: int = 5
    batch_size: int = 8  # windows per encoder/decoder batch
    # sentences
    max_pause: float = 2.0  # a longer pause ends a sentence even without punctuation
    subtitles: SubtitleLimits = field(default_factory=SubtitleLimits)

    def check(self) -> None:
        if not 0.0 < self.vad_threshold < 1.0:
            raise ConfigError(f"VAD threshold must be between 0 and 1, not {self.vad_threshold}")
        if not 1.0 <= self.max_window <= 30.0:
            raise ConfigError("max_window must be between 1 and 30 seconds (Whisper's window)")
        if self.beam_size < 1 or self.batch_size < 1:
            raise ConfigError("beam size and batch size must be at least 1")
        self.subtitles.check()
