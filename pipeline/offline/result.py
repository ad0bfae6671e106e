"""What the offline path makes of one file, and its form in the public event vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..events import End, Event, SourceCommit, SpeechEnd, SpeechStart, TargetCommit
from ..mt.sentences import Sentence
from .segment import SpeechSegment

__all__ = ["OfflineResult", "result_events"]


@dataclass(frozen=True, slots=True)
class OfflineResult:
    stream: str
    duration: float  # seconds of audio
    language: str  # source language ("und" when nothing was said and none was given)
    segments: tuple[SpeechSegment, ...]
    sentences: tuple[Sentence, ...]
    translations: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # lang -> per sentence
    timings: Mapping[str, float] = field(
        default_factory=dict, compare=False
    )  # wall seconds per step
    language_probability: float | None = None  # the detector's, when the language was detected

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.translations)


# Order at equal times: a segment opens before its words, words before their
# translation, and the segment closes last (the order the live pipeline emits them in).
_RANK = {SpeechStart: 0, SourceCommit: 1, TargetCommit: 2, SpeechEnd: 3}


def result_events(result: OfflineResult) -> list[Event]:
    """speech_start/speech_end per segment, a source_commit per sentence (with its words),
    a target_commit per sentence and language, then end. `emitted` stays None: a batch
    run has no stream clock. Source commits carry the detected language's probability (None
    when the language was given), as the live pipeline's do."""
    stream = result.stream
    timed: list[tuple[float, int, int, Event]] = []

    def add(t: float, event: Event) -> None:
        timed.append((t, _RANK[type(event)], len(timed), event))

    for u, seg in enumerate(result.segments, start=1):
        add(seg.start, SpeechStart(stream=stream, utterance=u, start=seg.start))
        add(seg.end, SpeechEnd(stream=stream, utterance=u, end=seg.end))
    for s in result.sentences:
        add(
            s.end,
            SourceCommit(
                stream=stream,
                utterance=s.utterance,
                lang=result.language,
                language_probability=result.language_probability,
                text=s.text,
                words=s.words,
                start=s.start,
                end=s.end,
            ),
        )
        for lang, texts in result.translations.items():
            add(
                s.end,
                TargetCommit(
                    stream=stream,
                    utterance=s.utterance,
                    lang=lang,
                    sentence=s.index,
                    text=texts[s.index],
                    start=s.start,
                    end=s.end,
                ),
            )
    timed.sort(key=lambda item: item[:3])
    return [event for *_, event in timed] + [End(stream=stream)]
