"""The shared ASR engine: one loaded Whisper serves every stream, batching passes."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine import BatchingEngine
from .backend import ASRBackend, ASRRequest, ASRResult, LanguageProbs, LanguageRequest

__all__ = ["ASREngine"]

Request = ASRRequest | LanguageRequest


def _batch_key(request: Request) -> object:
    # detections batch together (one 30 s window each); a transcription batch shares a
    # language; a request that still needs detection goes alone
    if isinstance(request, LanguageRequest):
        return "detect"
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

    def _run(self, requests: Sequence[Request]) -> list:
        if isinstance(requests[0], LanguageRequest):
            return self.backend.detect_batch(requests)  # type: ignore[arg-type]
        return self.backend.transcribe_batch(requests)  # type: ignore[arg-type]

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)  # a tokenizer call: cheap, no batching

    async def transcribe(self, request: ASRRequest) -> ASRResult:
        return await self._engine.submit(request)

    async def detect(self, request: LanguageRequest) -> LanguageProbs:
        return await self._engine.submit(request)

    def close(self) -> None:
        self._engine.close()
