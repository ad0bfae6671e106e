"""Builds a pipeline from a `PipelineConfig`: the one factory every front end uses.

Models come from an `EngineRegistry` supplied by the caller, so any number of
pipelines (streams) share one loaded model per engine.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from .asr.engine import ASREngine
from .asr.stage import ASRStage
from .asr.whisper_backend import WhisperBackend
from .clock import RealClock, SimulatedClock
from .compute import resolve_device
from .config import ComputeConfig, PipelineConfig
from .models.cache import resolve_model
from .mt.engine import EngineRegistry, MTEngine
from .mt.runtime import model_source
from .mt.speculative import SpeculationConfig, SpeculationTarget, SpeculativeBackend
from .mt.stage import TranslateStage
from .runner import Observer, Pipeline
from .stage import Clock, Source, Stage
from .vad.stage import VADStage

__all__ = [
    "asr_engine",
    "build_pipeline",
    "build_stages",
    "load_engines",
    "mt_engines",
    "speculative_engine",
    "split_threads",
]


def split_threads(compute: ComputeConfig) -> ComputeConfig:
    """Give ASR and MT an explicit share of the CPU threads (0 means: split the cores)."""
    cores = os.cpu_count() or 2
    asr = compute.asr_threads or max(1, cores // 2)
    mt = compute.mt_threads or max(1, cores - asr)
    return dataclasses.replace(compute, asr_threads=asr, mt_threads=mt)


def asr_engine(registry: EngineRegistry, config: PipelineConfig) -> ASREngine:
    compute = split_threads(config.compute)
    device, compute_type = resolve_device(compute)
    path = resolve_model(config.asr.model)
    asr = config.asr

    def load() -> ASREngine:
        backend = WhisperBackend(
            path,
            device=device,
            compute_type=compute_type,
            threads=compute.asr_threads,
            padding=asr.padding,
            beam_size=asr.beam_size,
            no_speech_threshold=asr.no_speech_threshold,
        )
        return ASREngine(backend)

    key = (str(path), device, compute_type, asr.padding, asr.beam_size, asr.no_speech_threshold)
    return registry.get("asr", key, load)


def mt_engines(
    registry: EngineRegistry, config: PipelineConfig
) -> tuple[MTEngine, MTEngine | None]:
    compute = split_threads(config.compute)
    mt = config.mt
    source = model_source(mt.model, mt.runtime, compute)  # the runtime: a .gguf or a CT2 folder
    main = registry.mt(source, compute, max_new_tokens=mt.max_new_tokens)
    fast = None
    if mt.fast_model and mt.fast_model != mt.model:
        fast_source = model_source(mt.fast_model, mt.runtime, compute)
        fast = registry.mt(fast_source, compute, max_new_tokens=mt.max_new_tokens)
    if mt.speculative != "off" and isinstance(main.backend, SpeculationTarget):
        main = speculative_engine(registry, config, main)
    return main, fast


def speculative_engine(
    registry: EngineRegistry, config: PipelineConfig, target: MTEngine
) -> MTEngine:
    """The main model behind speculative re-translation, shared like any engine.

    It wraps the already loaded target (and draft) backends, so no model loads twice.
    The draft model runs only where it pays: on CUDA under "auto" (on a 2-core CPU a
    verification pass costs about a dozen decoder steps, more than it saves).
    """
    compute = split_threads(config.compute)
    device, compute_type = resolve_device(compute)
    mt = config.mt
    draft = None
    if mt.draft_model and (
        mt.use_draft_model == "yes" or (mt.use_draft_model == "auto" and device == "cuda")
    ):
        engine = registry.mt(
            model_source(mt.draft_model, mt.runtime, compute),
            compute,
            max_new_tokens=mt.max_new_tokens,
        )
        if isinstance(engine.backend, SpeculationTarget):
            draft = engine.backend
    settings = SpeculationConfig.from_mt(mt)
    key = (id(target.backend), device, compute_type, settings, id(draft) if draft else None)
    backend = target.backend
    return registry.get(
        "mt-speculative", key, lambda: MTEngine(SpeculativeBackend(backend, settings, draft=draft))
    )


def load_engines(registry: EngineRegistry, config: PipelineConfig) -> None:
    """Load every model the config needs now (fail fast, before any audio flows)."""
    asr_engine(registry, config)
    mt_engines(registry, config)


def build_stages(config: PipelineConfig, registry: EngineRegistry, clock: Clock) -> list[Stage]:
    main, fast = mt_engines(registry, config)
    return [
        VADStage(config.vad, stream=config.stream),
        ASRStage(asr_engine(registry, config), config.asr),
        TranslateStage(main, config.mt, clock=clock, fast_engine=fast),
    ]


def build_pipeline(
    config: PipelineConfig,
    source: Source,
    registry: EngineRegistry,
    *,
    clock: Clock | None = None,
    observers: Sequence[Observer] = (),
) -> Pipeline:
    """Realtime sources run on the wall clock; `--no-realtime` on the simulated clock."""
    if clock is None:
        clock = RealClock() if config.source.realtime else SimulatedClock()
    return Pipeline(
        source,
        build_stages(config, registry, clock),
        clock=clock,
        stream=config.stream,
        observers=observers,
        queue_size=config.queue_size,
    )
