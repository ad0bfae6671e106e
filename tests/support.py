"""Shared test fakes: engines, clocks, source commits, and the fake model set-up.

The fake engines that plug into the real composition (the factory's VAD, ASR and
translator stages on a fake `EngineRegistry`) live in `pipeline/fakes.py`, so the
load script can use them too; this module adds what only tests need.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from pipeline.config import ASRConfig, MTConfig, PipelineConfig
from pipeline.events import SourceCommit, Word
from pipeline.fakes import FakeTranslator, fake_model_folders, fake_registry, voiced
from pipeline.mt.translator import Translation
from pipeline.stats import EngineStats

__all__ = [
    "FakeClock",
    "FakeEngine",
    "FakeTranslator",
    "commit",
    "fake_config",
    "fake_registry",
    "voiced",
]


class FakeEngine:
    """An MT engine answering `name:lang:source` at once, recording its requests."""

    def __init__(self, name: str = "main") -> None:
        self.name = name
        self.requests = []

    async def translate(self, request):
        self.requests.append(request)
        await asyncio.sleep(0)
        return Translation(f"{self.name}:{request.target_lang}:{request.source}", tokens=1, steps=1)

    def stats(self) -> EngineStats:
        return EngineStats(self.name, len(self.requests), len(self.requests))


class FakeClock:
    """A real-time clock whose time the test sets (`t`); never simulated."""

    simulated = False

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def start(self) -> None:
        pass

    def bind(self, wait_idle) -> None:
        pass

    async def sleep_until(self, t: float) -> None:
        self.t = max(self.t, t)


def commit(text: str, start: float, utterance: int = 1, *, lang: str = "en", stream: str = "s"):
    """A source commit of `text`, one word every 0.3 s from `start`."""
    words = tuple(
        Word(w, start + i * 0.3, start + i * 0.3 + 0.25) for i, w in enumerate(text.split())
    )
    return SourceCommit(
        stream=stream,
        utterance=utterance,
        lang=lang,
        text=text,
        words=words,
        start=words[0].start,
        end=words[-1].end,
    )


def fake_config(root: Path, config: PipelineConfig | None = None) -> PipelineConfig:
    """`config` on fake model folders under `root` (no fast or draft model, no speculation)."""
    config = config or PipelineConfig()
    asr, mt = fake_model_folders(root)
    return dataclasses.replace(
        config,
        asr=dataclasses.replace(config.asr or ASRConfig(), model=str(asr), language="en"),
        mt=dataclasses.replace(
            config.mt or MTConfig(),
            model=str(mt),
            fast_model=None,
            draft_model=None,
            speculative="off",
        ),
    )
