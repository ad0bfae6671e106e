"""UtteranceSegmenter: the pure core of the VAD, from frame decisions to utterances.

Fed one classified frame at a time, it returns what to emit:
- onset: an utterance starts once `min_speech` seconds of consecutive speech frames
  are seen; it opens with up to `pre_roll` seconds of the audio before that run
  (never audio already emitted in the previous utterance);
- hang-over: it ends after `hangover` seconds of continuous non-speech; those
  frames are still emitted as utterance audio (the ASR hears the trailing context),
  but the end time is the end of the last speech frame;
- `max_utterance`: an utterance never grows longer; it is split before the frame
  that would exceed it, and if speech is still going on the next one starts there
  at once (no onset, no pre-roll: no audio is lost or repeated).

All lengths are counted in samples, so times are exact to the sample.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..audio_format import RATE
from ..config import VADConfig
from ..errors import ConfigError

__all__ = ["Segment", "SegmentAudio", "SegmentEnd", "SegmentStart", "UtteranceSegmenter"]


@dataclass(frozen=True, slots=True)
class SegmentStart:
    utterance: int
    start: float  # the first sample of the utterance (onset minus pre-roll)


@dataclass(frozen=True, slots=True)
class SegmentAudio:
    utterance: int
    start: float
    samples: np.ndarray


@dataclass(frozen=True, slots=True)
class SegmentEnd:
    utterance: int
    end: float  # the end of the last speech frame


Segment = SegmentStart | SegmentAudio | SegmentEnd


def _samples(seconds: float) -> int:
    return round(seconds * RATE)


@dataclass(slots=True)
class _Frame:
    start: float
    samples: np.ndarray

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / RATE


class UtteranceSegmenter:
    """Onset, pre-roll, hang-over and forced splits over a stream of classified frames."""

    def __init__(self, config: VADConfig) -> None:
        for name in ("pre_roll", "hangover", "min_speech"):
            if getattr(config, name) < 0:
                raise ConfigError(f"vad.{name} must not be negative, not {getattr(config, name)}")
        if config.max_utterance <= config.pre_roll + config.min_speech:
            raise ConfigError("vad.max_utterance must be longer than vad.pre_roll + vad.min_speech")
        self._pre_roll = _samples(config.pre_roll)
        self._min_speech = _samples(config.min_speech)
        self._hangover = max(1, _samples(config.hangover))
        self._max = _samples(config.max_utterance)
        self.utterance = 0  # the open utterance's number, or the last one's when idle
        self.active = False
        self._history: deque[_Frame] = deque()  # idle: pre-roll plus the current speech run
        self._run = 0  # idle: samples of consecutive speech at the end of the history
        self._length = 0  # active: samples emitted in this utterance
        self._silence = 0  # active: samples of non-speech since the last speech frame
        self._speech_end = 0.0  # active: end of the last speech frame

    def feed(self, is_speech: bool, frame: np.ndarray, start: float) -> list[Segment]:
        """One classified frame (16 kHz mono) starting at `start` seconds."""
        out: list[Segment] = []
        current = _Frame(start, frame)
        if self.active and self._length + len(frame) > self._max:
            speaking = self._silence == 0
            out.append(self._close(self._speech_end))
            if speaking:
                out.append(self._open(start))
        if self.active:
            self._continue(is_speech, current, out)
        else:
            self._idle(is_speech, current, out)
        return out

    def finish(self, tail: np.ndarray, start: float) -> list[Segment]:
        """The audio stopped (End or Flush) after `tail`, a partial frame (maybe empty) at `start`.

        An open utterance takes the tail and closes: at the end of the audio seen if
        speech was still going on, else at the end of its last speech frame.
        """
        if not self.active:
            return []
        out: list[Segment] = []
        if len(tail):
            out.append(SegmentAudio(self.utterance, start, tail))
        end = self._speech_end if self._silence else start + len(tail) / RATE
        out.append(self._close(max(end, self._speech_end)))
        return out

    def _idle(self, is_speech: bool, frame: _Frame, out: list[Segment]) -> None:
        self._history.append(frame)
        self._run = self._run + len(frame.samples) if is_speech else 0
        if is_speech and self._run >= self._min_speech:
            self._onset(frame.end, out)
        else:
            self._trim_history()

    def _trim_history(self) -> None:
        """Drop frames that lie wholly before the pre-roll of the current speech run."""
        before = sum(len(f.samples) for f in self._history) - self._run
        while self._history and before - len(self._history[0].samples) >= self._pre_roll:
            before -= len(self._history.popleft().samples)

    def _onset(self, speech_end: float, out: list[Segment]) -> None:
        self._trim_history()
        before = sum(len(f.samples) for f in self._history) - self._run
        cut = max(0, before - self._pre_roll)  # samples of the oldest frame beyond the pre-roll
        first = self._history[0]
        start = first.start + cut / RATE
        audio = np.concatenate([f.samples for f in self._history])[cut:]
        out.append(self._open(start))
        out.append(SegmentAudio(self.utterance, start, audio))
        self._length = len(audio)
        self._speech_end = speech_end

    def _continue(self, is_speech: bool, frame: _Frame, out: list[Segment]) -> None:
        out.append(SegmentAudio(self.utterance, frame.start, frame.samples))
        self._length += len(frame.samples)
        if is_speech:
            self._silence = 0
            self._speech_end = frame.end
            return
        self._silence += len(frame.samples)
        if self._silence >= self._hangover:
            out.append(self._close(self._speech_end))

    def _open(self, start: float) -> SegmentStart:
        self.utterance += 1
        self.active = True
        self._length = self._silence = 0
        self._speech_end = start
        return SegmentStart(self.utterance, start)

    def _close(self, end: float) -> SegmentEnd:
        self.active = False
        self._history.clear()  # the next pre-roll must not repeat audio already emitted
        self._run = 0
        return SegmentEnd(self.utterance, end)
