"""A live session: the pipeline behind the TUI, and the figures the status bar shows.

`LiveSession` builds the pipeline through the spine's factory (models from a
shared `EngineRegistry`), puts a `CaptureGate` between the source and the
pipeline and a `PausableClock` under it. It steers the running pipeline only in
band (`Pipeline.send(SetTargets)`, `Pipeline.switch_input`) and reads it only
through its stats snapshot (`Pipeline.stats()`: RTF from busy time, whether the
translator is behind: partials on the fast model, stale re-translations skipped),
plus latency from `LatencyObserver` (trimmed to a recent window, so memory stays
bounded). The app talks to it only through `events()`, `stats()` and the
capture controls, so tests can stand a scripted session in its place.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from pipeline.clock import RealClock, SimulatedClock
from pipeline.compute import resolve_compute
from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError
from pipeline.events import Event, SetGlossary, SetTargets, SpeechEnd, SpeechStart
from pipeline.factory import build_pipeline, load_engines
from pipeline.glossary import Glossary, load_glossary
from pipeline.observers import LatencyObserver, percentiles
from pipeline.runner import Pipeline
from pipeline.stage import Source

from .capture import SILENCE_DB, CaptureGate, PausableClock

__all__ = ["LiveSession", "LiveStats", "Session", "SourceFactory", "RollingLatency"]

# (config) -> an opened Source; raises AudioInputError for a bad file or device
SourceFactory = Callable[[PipelineConfig], Source]
WINDOW = 200  # latency samples kept for the live figures


@dataclass(frozen=True, slots=True)
class LiveStats:
    """What the status bar shows; None where nothing is known yet."""

    models: str = ""
    device: str = ""
    input: str = ""
    level: float = SILENCE_DB
    speech: bool = False
    paused: bool = False
    ttf_p50: float | None = None
    ttf_p90: float | None = None
    lag: float | None = None
    rtf: float | None = None
    audio_seconds: float = 0.0
    degraded: bool = False  # partials on the fast model
    skipped: int = 0  # stale re-translations skipped
    fallback_lag: float = 4.0
    fast_model: str | None = None
    remote: bool = False  # captions from a server's room: its pipeline, not ours

    @property
    def behind(self) -> bool:
        return self.degraded or (self.lag is not None and self.lag > self.fallback_lag)


class Session(Protocol):
    """What the app needs of a session (a scripted one in tests)."""

    starting: str  # what the status bar says until the stream runs
    live: bool  # a microphone (pausing mutes it) rather than a file
    ready: bool  # models loaded, audio flowing
    paused: bool

    def events(self) -> AsyncIterator[Event]: ...

    def stats(self) -> LiveStats: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def set_targets(self, targets: tuple[str, ...]) -> None: ...

    async def switch_source(self, source: Source, label: str) -> None: ...

    def reload_glossary(self) -> Glossary: ...

    def use_device(self, spec: str, label: str) -> None: ...


class RollingLatency(LatencyObserver):
    """`LatencyObserver` that keeps only the latest WINDOW figures: live, and bounded over hours."""

    def on_event(self, event: Event) -> None:
        super().on_event(event)
        del self.source_lags[:-WINDOW], self.target_lags[:-WINDOW]
        for table in (self.finals, self.speech_ends):
            while len(table) > WINDOW:
                del table[next(iter(table))]

    def ttf(self) -> dict[str, float | None]:
        return percentiles(self.time_to_final())


class LiveSession:
    starting = "loading models…"

    def __init__(
        self,
        config: PipelineConfig,
        source_factory: SourceFactory,
        registry: EngineRegistry,
        *,
        live: bool,
        input_label: str = "",
        owns_registry: bool = False,
    ) -> None:
        self.config = config
        self.registry = registry
        self._owns_registry = owns_registry  # close the engines while the app's loop still runs
        self._source_factory = source_factory
        self.pipeline: Pipeline | None = None
        self.gate: CaptureGate | None = None
        self.clock = PausableClock(RealClock() if config.source.realtime else SimulatedClock())
        self.latency = RollingLatency()
        self.live = live
        self.ready = False
        self._speech = False
        self._sending: set[asyncio.Future] = set()  # control on its way into the pipeline
        self._static = LiveStats(
            models=_models(config),
            input=input_label,
            fallback_lag=config.mt.fallback_lag,
            fast_model=config.mt.fast_model,
        )

    async def events(self) -> AsyncIterator[Event]:
        """Open the input, load the models (off the loop), then run; raises RttError on set-up errors."""
        self.ready = False
        self.clock = PausableClock(RealClock() if self.config.source.realtime else SimulatedClock())
        self.latency = RollingLatency()
        source = self._source_factory(self.config)
        self.gate = CaptureGate(source, live=self.live)
        try:
            await asyncio.to_thread(load_engines, self.registry, self.config)
            compute = resolve_compute(self.config.compute)
            self._static = dataclasses.replace(
                self._static, device=f"{compute.device} {compute.compute_type}"
            )
            self.pipeline = build_pipeline(
                self.config, self.gate, self.registry, clock=self.clock, observers=[self.latency]
            )
        except BaseException:
            await self.gate.close()
            raise
        self.ready = True
        async for event in self.pipeline.run():
            if isinstance(event, (SpeechStart, SpeechEnd)):
                self._speech = isinstance(event, SpeechStart)
            yield event

    def stats(self) -> LiveStats:
        stats = dataclasses.replace(self._static, paused=self.paused)
        if self.gate is None or self.pipeline is None:
            return stats
        ttf = self.latency.ttf()
        snapshot = self.pipeline.stats()
        lag = snapshot.target_lag if snapshot.target_lag is not None else snapshot.source_lag
        translator = snapshot.translator
        return dataclasses.replace(
            stats,
            level=self.gate.level,
            speech=self._speech,
            ttf_p50=ttf["p50"],
            ttf_p90=ttf["p90"],
            lag=lag,
            rtf=snapshot.rtf,
            audio_seconds=snapshot.audio_seconds,
            degraded=bool(translator and translator.degraded),
            skipped=translator.skipped if translator else 0,
        )

    @property
    def paused(self) -> bool:
        return self.clock.paused or bool(self.gate and self.gate.muted)

    def pause(self) -> None:
        if self.live and self.gate is not None:
            self.gate.muted = True  # a microphone cannot wait: mute it
        else:
            self.clock.pause()  # a file waits where it is

    def resume(self) -> None:
        if self.gate is not None:
            self.gate.muted = False
        self.clock.resume()

    def set_targets(self, targets: tuple[str, ...]) -> None:
        """New sentences are translated into these languages from now on."""
        self.config = dataclasses.replace(
            self.config, mt=dataclasses.replace(self.config.mt, targets=targets)
        )
        if self.pipeline is not None:  # in band: after the audio already in the pipeline
            task = asyncio.ensure_future(
                self.pipeline.send(SetTargets(stream=self.config.stream, targets=targets))
            )
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def reload_glossary(self) -> Glossary:
        """Read the configured glossary file again; new requests use it (an RttError if bad:
        the glossary in use stays)."""
        current = self.config.glossary
        if current is None or current.origin is None:
            raise ConfigError("no glossary file configured: start with --glossary FILE")
        glossary = load_glossary(current.origin)
        self.config = dataclasses.replace(self.config, glossary=glossary)
        if self.pipeline is not None:  # in band, like the targets
            event = SetGlossary(stream=self.config.stream, glossary=glossary)
            task = asyncio.ensure_future(self.pipeline.send(event))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return glossary

    async def switch_source(self, source: Source, label: str) -> None:
        """Go on from another microphone, on the same stream (utterances keep counting)."""
        if self.gate is None or self.pipeline is None:
            await source.close()
            return
        self.gate = CaptureGate(source, live=self.live, muted=self.gate.muted)
        self.pipeline.switch_input(self.gate)
        self._static = dataclasses.replace(self._static, input=label)

    def use_device(self, spec: str, label: str) -> None:
        """The microphone for the next `events()` (after the last one failed to open)."""
        self.config = dataclasses.replace(
            self.config, source=dataclasses.replace(self.config.source, input_device=spec)
        )
        self._static = dataclasses.replace(self._static, input=label)

    def end_input(self) -> None:
        if self.pipeline is not None:
            self.pipeline.end_input()
        self.clock.resume()  # a paused file must be able to finish

    async def close(self) -> None:
        if self.gate is not None:
            await self.gate.close()
        if self._owns_registry:  # in-flight model calls then resolve on a loop that is still open
            await asyncio.to_thread(self.registry.close)


def _models(config: PipelineConfig) -> str:
    mt = (
        config.mt.model
        if not config.mt.fast_model
        else f"{config.mt.model} (fast: {config.mt.fast_model})"
    )
    if config.mt.fast_targets:  # the machine fit gives these targets' finals to the fast model
        mt += f" [{','.join(config.mt.fast_targets)}: fast]"
    return f"{config.asr.model} → {mt}"
