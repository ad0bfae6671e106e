"""Observers that measure a running pipeline from the events leaving it.

Latency is read off the stream clock stamps (`emitted`), so the same observer
measures a real-time run (computation-aware) and a simulated one
(computation-unaware). Definitions: docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .events import Event, SourceCommit, SpeechEnd, SpeechStart, TargetAppend, TargetCommit

__all__ = ["LatencyObserver", "percentiles"]


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "max": None, "n": 0}
    arr = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p90": round(float(np.percentile(arr, 90)), 3),
        "max": round(float(arr.max()), 3),
        "n": len(values),
    }


@dataclass
class LatencyObserver:
    speech_ends: dict[int, float] = field(default_factory=dict)  # utterance -> end of speech
    finals: dict[tuple[str, int], float] = field(
        default_factory=dict
    )  # (lang, utterance) -> last commit time
    source_lags: list[float] = field(default_factory=list)  # commit time - end of its last word
    target_lags: list[float] = field(default_factory=list)  # commit time - end of its source span
    speech_starts: dict[int, float] = field(default_factory=dict)  # utterance -> start of speech
    # (lang, utterance) -> first committed target word (a target_append, else a target_commit)
    first_words: dict[tuple[str, int], float] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        if event.emitted is None:
            return
        if isinstance(event, (TargetAppend, TargetCommit)):
            self.first_words.setdefault((event.lang, event.utterance), event.emitted)
        if isinstance(event, SpeechStart):
            self.speech_starts[event.utterance] = event.start
        elif isinstance(event, SpeechEnd):
            self.speech_ends[event.utterance] = event.end
        elif isinstance(event, SourceCommit):
            self.source_lags.append(event.emitted - event.end)
        elif isinstance(event, TargetCommit):
            self.target_lags.append(event.emitted - event.end)
            key = (event.lang, event.utterance)
            self.finals[key] = max(self.finals.get(key, 0.0), event.emitted)

    def time_to_final(self) -> list[float]:
        """End of each utterance's speech to its final translation, per language."""
        return [
            t - self.speech_ends[u]
            for (_, u), t in sorted(self.finals.items())
            if u in self.speech_ends
        ]

    def time_to_first_word(self) -> list[float]:
        """Start of each utterance's speech to its first committed target word, per language."""
        return [
            t - self.speech_starts[u]
            for (_, u), t in sorted(self.first_words.items())
            if u in self.speech_starts
        ]

    def summary(self) -> dict[str, dict[str, float | None]]:
        return {
            "time_to_final": percentiles(self.time_to_final()),
            "time_to_first_target_word": percentiles(self.time_to_first_word()),
            "source_commit_lag": percentiles(self.source_lags),
            "target_commit_lag": percentiles(self.target_lags),
        }
