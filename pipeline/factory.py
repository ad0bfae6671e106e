"""Builds a pipeline from a `PipelineConfig`: the one factory every front end uses.

Models come from an `EngineRegistry` supplied by the caller, so any number of
pipelines (streams) share one loaded model per engine. The compute section is
resolved once (`resolve_compute`: device, compute type, thread split) and every
engine gets the resolved one. The translation runtime (`mt/runtime.py`: llama.cpp
on a CPU, CTranslate2 on CUDA) picks which form of a model is opened. A model's
family (from its marker or its files) picks the prompt template, so a model of
another family fails clearly instead of getting the wrong prompts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .asr.engine import ASREngine
from .asr.stage import ASRStage
from .clock import RealClock, SimulatedClock
from .compute import resolve_compute, split_threads
from .config import PipelineConfig
from .engine import LIVE, EngineRegistry, MTEngine
from .errors import ConfigError
from .models.cache import model_family, resolve_model
from .mt.runtime import model_source
from .mt.speculative import SpeculationTarget, SpeculativeBackend
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
    "resolved",
    "speculative_engine",
    "split_threads",
]


def resolved(config: PipelineConfig) -> PipelineConfig:
    """`config` with its compute section made concrete (idempotent)."""
    return dataclasses.replace(config, compute=resolve_compute(config.compute))


def _mt_model(ref: str):
    """A translation model's folder and its prompt family; a Whisper model is refused."""
    path = resolve_model(ref)
    family = model_family(path)
    if family == "whisper":
        raise ConfigError(f"{ref!r} is a speech recognition model, not a translation LLM")
    return path, family


def asr_engine(registry: EngineRegistry, config: PipelineConfig) -> ASREngine:
    compute = resolve_compute(config.compute)
    device, compute_type = compute.device, compute.compute_type
    path = resolve_model(config.asr.model)
    asr = config.asr

    def load() -> ASREngine:
        backend = registry.asr_backend(
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
    mt = config.mt
    main = _mt_engine(registry, mt.model, config)
    fast = None
    if mt.fast_model and mt.fast_model != mt.model:
        fast = _mt_engine(registry, mt.fast_model, config)
    if mt.speculative != "off" and isinstance(main.backend, SpeculationTarget):
        main = speculative_engine(registry, config, main)
    return main, fast


def _mt_engine(registry: EngineRegistry, ref: str, config: PipelineConfig) -> MTEngine:
    """The shared engine on the model source the chosen runtime opens (a .gguf or a CT2 folder)."""
    _, family = _mt_model(ref)
    compute = resolve_compute(config.compute)
    source = model_source(ref, config.mt.runtime, compute)
    return registry.mt(source, compute, max_new_tokens=config.mt.max_new_tokens, family=family)


def speculative_engine(
    registry: EngineRegistry, config: PipelineConfig, target: MTEngine
) -> MTEngine:
    """The main model behind speculative re-translation, shared like any engine.

    It wraps the already loaded target (and draft) backends, so no model loads twice.
    The draft model runs only when asked for (`use_draft_model`): measured at 0.38x on
    a 2-core CPU (a verification pass costs about a dozen decoder steps), never on a GPU.
    """
    compute = resolve_compute(config.compute)
    device, compute_type = compute.device, compute.compute_type
    mt = config.mt
    draft = None
    if mt.draft_model and mt.use_draft_model:
        engine = _mt_engine(registry, mt.draft_model, config)
        if isinstance(engine.backend, SpeculationTarget):
            draft = engine.backend
    settings = dataclasses.replace(mt, targets=())  # the engine is shared by every target
    key = (id(target.backend), device, compute_type, settings, id(draft) if draft else None)
    backend = target.backend
    return registry.get(
        "mt-speculative", key, lambda: MTEngine(SpeculativeBackend(backend, settings, draft=draft))
    )


def load_engines(registry: EngineRegistry, config: PipelineConfig) -> None:
    """Load every model the config needs now (fail fast, before any audio flows)."""
    config = resolved(config)
    asr_engine(registry, config)
    mt_engines(registry, config)


def build_stages(
    config: PipelineConfig, registry: EngineRegistry, clock: Clock, *, priority: int = LIVE
) -> list[Stage]:
    """`priority`: of the Whisper passes on the shared engine (`BACKGROUND` for a file a
    server streams back, so live rooms go first)."""
    config = resolved(config)
    main, fast = mt_engines(registry, config)
    asr = asr_engine(registry, config)
    return [
        VADStage(config.vad, stream=config.stream),
        ASRStage(
            asr if priority == LIVE else asr.at_priority(priority), config.asr, config.glossary
        ),
        TranslateStage(main, config.mt, clock=clock, fast_engine=fast, glossary=config.glossary),
    ]


def build_pipeline(
    config: PipelineConfig,
    source: Source,
    registry: EngineRegistry,
    *,
    clock: Clock | None = None,
    observers: Sequence[Observer] = (),
    priority: int = LIVE,
) -> Pipeline:
    """Realtime sources run on the wall clock; `--no-realtime` on the simulated clock."""
    if clock is None:
        clock = RealClock() if config.source.realtime else SimulatedClock()
    stages = build_stages(config, registry, clock, priority=priority)
    config = resolved(config)
    main, fast = mt_engines(registry, config)
    engines = [asr_engine(registry, config), main, *([fast] if fast is not None else [])]
    return Pipeline(
        source,
        stages,
        clock=clock,
        stream=config.stream,
        observers=observers,
        queue_size=config.queue_size,
        engines=engines,
    )
