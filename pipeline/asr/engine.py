"""The shared ASR engine: one loaded Whisper serves every stream, batching passes.

Live passes (rooms, streams) go first; `at_priority(BACKGROUND)` is the engine as
the whole-file path sees it (`OfflineASR`): each batch of a file's windows is one
request, served when no live request waits (pipeline/engine.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..engine import LIVE, BatchingEngine
from ..events import Word
from .backend import (
    ASRBackend,
    ASRRequest,
    ASRResult,
    ClipsRequest,
    LanguageProbs,
    LanguageRequest,
)

__all__ = ["ASREngine"]

Request = ASRRequest | LanguageRequest | ClipsRequest


def _batch_key(request: Request) -> object:
    # detections batch together (one 30 s window each); a transcription batch shares a
    # language; a request that still needs detection goes alone, and so does a file's batch
    if isinstance(request, LanguageRequest):
        return "detect"
    if isinstance(request, ClipsRequest):
        return id(request)
    return request.language if request.language else id(request)


class ASREngine:
    def __init__(self, backend: ASRBackend, *, max_batch: int = 4) -> None:
        self.backend = backend
        self.name = backend.name
        self._engine = BatchingEngine(
            f"asr-{backend.name}", self._run, key=_batch_key, max_batch=max_batch
        )

    @property
    def multilingual(self) -> bool:
        return self.backend.multilingual

    @property
    def batches(self) -> int:
        return self._engine.batches

    @property
    def requests(self) -> int:
        return self._engine.requests

    @property
    def waiting(self) -> int:
        return self._engine.waiting

    def _run(self, requests: Sequence[Request]) -> list:
        if isinstance(requests[0], LanguageRequest):
            return self.backend.detect_batch(requests)  # type: ignore[arg-type]
        if isinstance(requests[0], ClipsRequest):
            return [self.backend.transcribe_clips(r) for r in requests]  # type: ignore[arg-type]
        return self.backend.transcribe_batch(requests)  # type: ignore[arg-type]

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)  # a tokenizer call: cheap, no batching

    async def transcribe(self, request: ASRRequest, priority: int = LIVE) -> ASRResult:
        return await self._engine.submit(request, priority)

    async def detect(self, request: LanguageRequest, priority: int = LIVE) -> LanguageProbs:
        return await self._engine.submit(request, priority)

    def at_priority(self, priority: int) -> _Prioritised:
        """This engine with every request at `priority`: a blocking `OfflineASR`, and the
        engine of a streaming `ASRStage` (`build_pipeline(..., priority=...)`)."""
        return _Prioritised(self, priority)

    def close(self) -> None:
        self._engine.close()


class _Prioritised:
    """The engine at one priority: blocking calls for the whole-file path (from a worker
    thread, never the loop), and the async ones a streaming `ASRStage` makes."""

    def __init__(self, engine: ASREngine, priority: int) -> None:
        self._engine = engine
        self._priority = priority
        self.multilingual = engine.multilingual

    def detect_batch(self, requests: Sequence[LanguageRequest]) -> list[LanguageProbs]:
        return [self._engine._engine.run(r, self._priority) for r in requests]

    def transcribe_clips(self, request: ClipsRequest) -> list[Word]:
        return self._engine._engine.run(request, self._priority)

    async def transcribe(self, request: ASRRequest) -> ASRResult:
        return await self._engine.transcribe(request, self._priority)

    async def detect(self, request: LanguageRequest) -> LanguageProbs:
        return await self._engine.detect(request, self._priority)

    def count_tokens(self, text: str) -> int:
        return self._engine.count_tokens(text)
