"""VADStage: source audio in, numbered utterances out; audio outside speech is dropped.

The shell cuts incoming chunks into the classifier's frames (a partial frame waits
for the next chunk), classifies them off the event loop, feeds the decisions to the
pure `UtteranceSegmenter` and turns what it returns into events: per input chunk at
most one contiguous in-utterance `AudioChunk` per utterance, between its
`SpeechStart` and `SpeechEnd`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from ..config import VADConfig
from ..errors import ConfigError
from ..events import AudioChunk, End, Event, Flush, SpeechEnd, SpeechStart
from ..stage import Stage
from .classifier import FrameClassifier
from .segmenter import RATE, Segment, SegmentAudio, SegmentStart, UtteranceSegmenter
from .silero import SileroClassifier, check_silero_config
from .webrtc import WebRtcClassifier, check_webrtc_config

__all__ = ["VADStage", "make_classifier"]


def _check(config: VADConfig) -> None:
    if config.backend == "webrtc":
        check_webrtc_config(config)
    elif config.backend == "silero":
        check_silero_config(config)
    else:
        raise ConfigError(f"vad.backend must be 'webrtc' or 'silero', not {config.backend!r}")


def make_classifier(config: VADConfig) -> FrameClassifier:
    """A fresh classifier (and model) for one stream."""
    _check(config)
    return SileroClassifier(config) if config.backend == "silero" else WebRtcClassifier(config)


class VADStage(Stage):
    def __init__(
        self, config: VADConfig, *, stream: str, classifier: FrameClassifier | None = None
    ) -> None:
        _check(config)
        self.config = config
        self.stream = stream
        self._classifier = classifier  # built on start() unless given
        self._owns_classifier = classifier is None
        self._segmenter = UtteranceSegmenter(config)
        self._buffer = np.zeros(0, dtype=np.float32)  # samples short of a whole frame
        self._origin = 0.0  # stream time the sample count below is measured from
        self._offset = 0  # samples from the origin to the buffer's first sample

    async def start(self) -> None:
        if self._classifier is None:
            self._classifier = await asyncio.to_thread(make_classifier, self.config)

    async def stop(self) -> None:
        if self._owns_classifier:
            self._classifier = None

    async def process(self, event: Event) -> AsyncIterator[Event]:
        if isinstance(event, AudioChunk):
            for out in await self._on_audio(event):
                yield out
        elif isinstance(event, (End, Flush)):
            for out in self._on_finish():
                yield out
            yield event
        else:
            yield event

    async def _on_audio(self, chunk: AudioChunk) -> list[Event]:
        if self._classifier is None:
            raise RuntimeError("VADStage.process() called before start()")
        classifier = self._classifier
        frames = self._frames(chunk, classifier.frame_samples)
        if not frames:
            return []
        # One thread hop per chunk: the model call is cheap but must not run on the loop.
        decisions = await asyncio.to_thread(lambda: [classifier.is_speech(f) for _, f in frames])
        segments: list[Segment] = []
        for (start, frame), speech in zip(frames, decisions):
            segments += self._segmenter.feed(speech, frame, start)
        return self._events(segments)

    def _frames(self, chunk: AudioChunk, size: int) -> list[tuple[float, np.ndarray]]:
        """Append the chunk to the buffer and take every whole frame, with its start time."""
        buffer_start = self._origin + self._offset / RATE
        if (
            len(self._buffer) == 0
            or abs(chunk.start - (buffer_start + len(self._buffer) / RATE)) > 0.5 / RATE
        ):
            # First chunk, or not contiguous with the last: re-anchor (a stray partial frame is dropped).
            self._buffer, self._origin, self._offset = chunk.samples, chunk.start, 0
        else:
            self._buffer = np.concatenate([self._buffer, chunk.samples])
        whole = len(self._buffer) - len(self._buffer) % size
        frames = [
            (self._origin + (self._offset + i) / RATE, self._buffer[i : i + size])
            for i in range(0, whole, size)
        ]
        self._buffer = self._buffer[whole:]
        self._offset += whole
        return frames

    def _on_finish(self) -> list[Event]:
        segments = self._segmenter.finish(self._buffer, self._origin + self._offset / RATE)
        self._offset += len(self._buffer)
        self._buffer = np.zeros(0, dtype=np.float32)
        return self._events(segments)

    def _events(self, segments: list[Segment]) -> list[Event]:
        """Segments → events, joining each run of audio pieces (always contiguous) into one chunk."""
        events: list[Event] = []
        audio: list[SegmentAudio] = []
        for segment in segments + [None]:
            if isinstance(segment, SegmentAudio):
                audio.append(segment)
                continue
            if audio:
                samples = (
                    np.concatenate([a.samples for a in audio])
                    if len(audio) > 1
                    else audio[0].samples
                )
                events.append(
                    AudioChunk(
                        stream=self.stream,
                        utterance=audio[0].utterance,
                        start=audio[0].start,
                        samples=samples,
                    )
                )
                audio = []
            if isinstance(segment, SegmentStart):
                events.append(
                    SpeechStart(
                        stream=self.stream, utterance=segment.utterance, start=segment.start
                    )
                )
            elif segment is not None:
                events.append(
                    SpeechEnd(stream=self.stream, utterance=segment.utterance, end=segment.end)
                )
        return events
