"""Streamed transcripts for /v1 (`stream=true`): decoded audio through the live pipeline.

The audio runs through the same composition as a room (VAD, streaming Whisper), on
the simulated clock: as fast as the machine goes, each commit sent as soon as the
pipeline makes it, so a client sees text while a long file is still processed.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator

import numpy as np

from pipeline.audio.convert import RATE, Chunker
from pipeline.clock import SimulatedClock
from pipeline.config import PipelineConfig
from pipeline.engine import BACKGROUND, EngineRegistry
from pipeline.events import Error, SourceCommit
from pipeline.factory import build_pipeline

from .openai_formats import ApiError

__all__ = ["live_text"]


async def live_text(
    config: PipelineConfig, audio: np.ndarray, language: str | None, registry: EngineRegistry
) -> AsyncIterator[dict]:
    """The transcript of `audio` as OpenAI's stream events: a `transcript.text.delta` per
    committed stretch, then `transcript.text.done` (an error event if the pipeline fails)."""
    stream = f"v1-{secrets.token_hex(4)}"
    config = dataclasses.replace(
        config,
        stream=stream,
        source=dataclasses.replace(config.source, realtime=False),
        asr=dataclasses.replace(config.asr, language=language),
        mt=dataclasses.replace(config.mt, targets=()),
    )
    source = _ArraySource(stream, audio)
    # a file, however it is returned: its passes yield to live rooms' (pipeline/engine.py)
    pipeline = build_pipeline(config, source, registry, clock=SimulatedClock(), priority=BACKGROUND)
    texts: list[str] = []
    async for event in pipeline.run():
        if isinstance(event, SourceCommit) and event.text.strip():
            delta = (" " if texts else "") + event.text.strip()
            texts.append(event.text.strip())
            yield {"type": "transcript.text.delta", "delta": delta}
        elif isinstance(event, Error):
            yield ApiError(500, event.message, type="server_error", code=event.code).body()
            return
    yield {"type": "transcript.text.done", "text": " ".join(texts)}


class _ArraySource:
    """Decoded audio as a pipeline source, paced by the (simulated) clock like a file."""

    def __init__(self, stream: str, audio: np.ndarray, chunk_seconds: float = 0.1) -> None:
        self.stream = stream
        self._audio = audio
        self._chunker = Chunker(stream, chunk_seconds)

    async def chunks(self, clock) -> AsyncIterator:
        clock.start()
        step = RATE  # a second of audio at a time
        for i in range(0, len(self._audio), step):
            for chunk in self._chunker.push(self._audio[i : i + step]):
                yield chunk
                await clock.sleep_until(chunk.end)
        for chunk in self._chunker.flush():
            yield chunk

    async def close(self) -> None:
        self._audio = self._audio[:0]
