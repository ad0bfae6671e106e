"""The stats snapshot of a running pipeline: what front ends and metrics read.

`Pipeline.stats()` returns one frozen `PipelineStats`: the runner's own figures
(busy seconds per stage, audio fed, the latest lags, the counters of the
shared engines the factory gave it) and what each stage reports of itself
(`Stage.report()`: the translator's state).
Front ends read this snapshot, never a stage object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "BudgetStats",
    "CountedEngine",
    "EngineStats",
    "PipelineStats",
    "StageReport",
    "StageStats",
    "TranslatorStats",
]


class CountedEngine(Protocol):
    """A shared engine as the stats see it (`MTEngine`, `ASREngine`)."""

    @property
    def name(self) -> str: ...

    @property
    def batches(self) -> int: ...

    @property
    def requests(self) -> int: ...


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Counters of one shared engine (over every stream it serves)."""

    name: str
    batches: int
    requests: int


@dataclass(frozen=True, slots=True)
class BudgetStats:
    """What the budget did, for the stats snapshot (`TranslatorStats.budget`)."""

    deadline: float  # seconds after a sentence ends that its final is due
    deferred: int  # partials held back because they did not fit the spare capacity
    fast_partials: int  # partials it sent to the fast model
    late_finals: int  # finals that finished after their deadline (with or without partials)
    final_cost: float | None  # measured seconds per final (main model)
    partial_cost: float | None  # measured seconds per partial, main model
    fast_cost: float | None  # measured seconds per partial, fast model


@dataclass(frozen=True, slots=True)
class TranslatorStats:
    targets: tuple[str, ...]  # languages sentences are translated into now
    source_lang: str | None  # language of the latest source commit
    degraded: bool  # partials on the fast model while lagging
    skipped: int  # stale partial re-translations skipped
    steps: int  # sequential decoder steps of this stream's translations
    budget: BudgetStats | None = None  # the core budget (`[mt] budget = "auto"`); None: off
    repairs: int = 0  # finals asked again for breaking the register (pipeline/mt/guide.py)


@dataclass(frozen=True, slots=True)
class StageReport:
    """What a stage reports of itself (`Stage.report()`)."""

    translator: TranslatorStats | None = None


@dataclass(frozen=True, slots=True)
class StageStats:
    name: str
    busy: float  # seconds in process()/work(), waiting on the next queue excluded
    report: StageReport = StageReport()


@dataclass(frozen=True, slots=True)
class PipelineStats:
    stream: str
    now: float  # stream clock
    audio_seconds: float  # stream time of the audio handed to the stages
    stages: tuple[StageStats, ...] = ()
    source_lag: float | None = None  # latest source commit: emitted - end of its words
    target_lag: float | None = None  # latest target commit: emitted - end of its source span
    engines: tuple[EngineStats, ...] = ()  # the shared engines this pipeline uses

    @property
    def busy(self) -> Mapping[str, float]:
        """Busy seconds per stage name."""
        out: dict[str, float] = {}
        for stage in self.stages:
            out[stage.name] = out.get(stage.name, 0.0) + stage.busy
        return MappingProxyType(out)

    @property
    def busy_seconds(self) -> float:
        return sum(s.busy for s in self.stages)

    @property
    def rtf(self) -> float | None:
        """Compute time per second of audio (None until a second of audio went in)."""
        return self.busy_seconds / self.audio_seconds if self.audio_seconds > 1.0 else None

    @property
    def translator(self) -> TranslatorStats | None:
        return next((s.report.translator for s in self.stages if s.report.translator), None)
