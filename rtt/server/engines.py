"""How a room gets its stages: the shared engines in, a per-room stage list out.

`EngineKit` uses the one factory (`pipeline.factory.build_stages`) for the VAD
and ASR stages and composes the per-language translation stages into a
`LanguageFanoutStage`, all on engines from one `EngineRegistry`: a model is loaded
once for the whole server, never per client. Tests pass a kit with fake stages
where the model is not the point.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from pipeline.config import PipelineConfig
from pipeline.factory import build_stages, load_engines, mt_engines
from pipeline.fanout import LanguageFanoutStage
from pipeline.mt.engine import EngineRegistry
from pipeline.mt.stage import TranslateStage
from pipeline.stage import Clock, Stage

__all__ = ["EngineKit", "StageKit"]


class StageKit(Protocol):
    def load(self, config: PipelineConfig) -> None:
        """Load every model `config` needs (blocking; called once, on a thread)."""

    def stages(
        self, config: PipelineConfig, clock: Clock
    ) -> tuple[list[Stage], LanguageFanoutStage]:
        """A fresh stage list for one stream, ending in its language fan-out."""


class EngineKit:
    def __init__(self, registry: EngineRegistry) -> None:
        self.registry = registry

    def load(self, config: PipelineConfig) -> None:
        load_engines(self.registry, config)

    def stages(
        self, config: PipelineConfig, clock: Clock
    ) -> tuple[list[Stage], LanguageFanoutStage]:
        untranslated = dataclasses.replace(config, mt=dataclasses.replace(config.mt, targets=()))
        front = build_stages(untranslated, self.registry, clock)[:-1]
        main, fast = mt_engines(self.registry, config)

        def translator(lang: str) -> Stage:
            mt = dataclasses.replace(config.mt, targets=(lang,))
            return TranslateStage(main, mt, clock=clock, fast_engine=fast)

        fanout = LanguageFanoutStage(translator, config.mt.targets)
        return [*front, fanout], fanout
