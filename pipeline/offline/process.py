"""The offline path for one file: read, VAD, batched ASR, sentences, batched translation.

`OfflineProcessor` holds the shared engines and nothing per file, so any number of
files may be in flight at once (`rtt batch --jobs N`): reading and VAD run in worker
threads side by side, the Whisper model decodes one file at a time (a lock: its
batches are already as wide as the machine), and the MT engine's worker batches the
sentences of every file in flight together. A processor built with
`priority=BACKGROUND` (a server's file jobs) sends every Whisper batch and every
sentence to the shared engines at that priority: live rooms are served first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import PipelineConfig
from ..engine import LIVE, EngineRegistry, MTEngine
from ..factory import asr_engine, mt_engines
from ..glossary import Glossary
from ..mt.guide import Guidance
from .config import OfflineConfig
from .result import OfflineResult
from .segment import RATE, asr_windows, read_audio, speech_segments
from .sentences import split_sentences
from .transcribe import BatchTranscriber, OfflineASR
from .translate import translate_sentences

__all__ = ["OfflineProcessor", "ProgressSink", "UNDETERMINED", "build_processor"]

UNDETERMINED = "und"  # ISO 639-2 "undetermined": a silent file in auto mode has no language


class ProgressSink(Protocol):
    """Where a file's progress goes; every method may be called from a worker thread."""

    def stage(self, name: str) -> None: ...

    def started(self, duration: float) -> None: ...

    def transcribed(self, seconds: float) -> None: ...

    def translated(self, done: int, total: int) -> None: ...


class _NoProgress:
    def stage(self, name: str) -> None: ...

    def started(self, duration: float) -> None: ...

    def transcribed(self, seconds: float) -> None: ...

    def translated(self, done: int, total: int) -> None: ...


class OfflineProcessor:
    def __init__(
        self,
        asr: OfflineASR,
        mt_engine: MTEngine,
        config: OfflineConfig | None = None,
        *,
        candidates: Sequence[str] = (),
        glossary: Glossary | None = None,
        register: str = "formal",
        priority: int = LIVE,
        glossary_tokens: int = 0,
        respell_terms: bool = True,
    ) -> None:
        config = config or OfflineConfig()
        self._guidance = Guidance(glossary, register=register, context=0)
        config.check()
        self.config = config
        # language None (auto): detected per file among `candidates` (default: all supported)
        self._transcriber = BatchTranscriber(
            asr, config, candidates, glossary, glossary_tokens, respell_terms
        )
        self._mt = mt_engine
        self._priority = priority
        self._asr_lock = asyncio.Lock()

    async def process(
        self,
        path: Path,
        *,
        stream: str,
        language: str | None,
        targets: Sequence[str],
        progress: ProgressSink | None = None,
    ) -> OfflineResult:
        """Raises `AudioInputError` for an unreadable file, `ModelError` when a model fails."""
        progress = progress or _NoProgress()
        progress.stage("reading")
        return await self.process_audio(  # no reference kept here: process_audio frees it
            await read_audio(path, stream=stream),
            stream=stream,
            language=language,
            targets=targets,
            progress=progress,
        )

    async def process_audio(
        self,
        audio: np.ndarray,
        *,
        stream: str,
        language: str | None,
        targets: Sequence[str],
        progress: ProgressSink | None = None,
    ) -> OfflineResult:
        """The same for audio already decoded (16 kHz mono float32), e.g. an upload."""
        progress = progress or _NoProgress()
        clock = _StageClock()
        duration = len(audio) / RATE
        progress.started(duration)
        progress.stage("vad")
        segments = await asyncio.to_thread(speech_segments, audio, self.config)
        windows = asr_windows(segments, self.config)
        clock.lap("read+vad")
        progress.stage("waiting")
        async with self._asr_lock:
            clock.lap("wait")
            progress.stage("asr")
            transcript = await asyncio.to_thread(
                self._transcriber.transcribe, audio, windows, language, progress.transcribed
            )
        clock.lap("asr")
        del audio  # the largest object of a file: free it before translation
        progress.transcribed(duration)
        source_lang = transcript.language or language or UNDETERMINED
        sentences = split_sentences(
            transcript.words, source_lang, segments, max_pause=self.config.max_pause
        )
        progress.stage("translating")
        translations = await translate_sentences(
            self._mt,
            sentences,
            source_lang,
            targets,
            progress.translated,
            self._guidance,
            priority=self._priority,
        )
        clock.lap("mt")
        progress.stage("writing")
        return OfflineResult(
            stream,
            duration,
            source_lang,
            tuple(segments),
            tuple(sentences),
            translations,
            clock.laps,
            transcript.language_probability,
        )


class _StageClock:
    """Wall seconds per step, for RTF figures (results never depend on it)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def build_processor(
    config: PipelineConfig,
    registry: EngineRegistry,
    offline: OfflineConfig | None = None,
    *,
    priority: int = LIVE,
) -> OfflineProcessor:
    """Load (or reuse, through the registry) the Whisper model and the main LLM of `config`.

    The engines are the very ones `build_pipeline` uses, so the live and the offline
    path in one process share one copy of each model, and their requests queue at
    `priority` there. No fast model: nothing lags offline.
    """
    config = dataclasses.replace(config, mt=dataclasses.replace(config.mt, fast_model=None))
    asr = asr_engine(registry, config).at_priority(priority)
    main, _ = mt_engines(registry, config)
    return OfflineProcessor(
        asr,
        main,
        offline or OfflineConfig(),
        candidates=config.asr.candidates,
        glossary=config.glossary,
        register=config.mt.register,
        priority=priority,
        glossary_tokens=config.asr.glossary_tokens if config.asr.glossary_prompt else 0,
        respell_terms=config.asr.glossary_respell,
    )
