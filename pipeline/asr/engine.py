"""The shared ASR engine: one loaded Whisper serves every stream, batching passes."""

from __future__ import annotations

from ..engine import BatchingEngine
from .backend import ASRBackend, ASRRequest, ASRResult

__all__ = ["ASREngine"]


def _batch_key(request: ASRRequest) -> object:
    # one batch shares a language; a request that still needs detection goes alone
    return request.language if request.language else id(request)


class ASREngine:
    def __init__(self, backend: ASRBackend, *, max_batch: int = 4) -> None:
        self.backend = backend
        self.name = backend.name
        self._engine = BatchingEngine(
            f"asr-{backend.name}", backend.transcribe_batch, key=_batch_key, max_batch=max_batch
        )

    @property
    def batches(self) -> int:
        return self._engine.batches

    @property
    def requests(self) -> int:
        return self._engine.requests

    async def transcribe(self, request: ASRRequest) -> ASRResult:
        return await self._engine.submit(request)

    def close(self) -> None:
        self._engine.close()
