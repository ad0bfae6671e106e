"""The shared MT engine, and the registry that loads each model once.

`MTEngine` puts a `Translator` behind a `BatchingEngine`: requests from every
session are batched by language pair (one pair shares one cached system prompt)
and run on the engine's worker thread, off every event loop.

`EngineRegistry` is created by the caller (the CLI, the server, a test), never a
module singleton: it loads each model once per (kind, key) and hands the same
engine to every session that asks. ASR engines live in the same registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Protocol, TypeVar

from ..compute import resolve_device
from ..config import ComputeConfig
from ..engine import BatchingEngine
from .runtime import open_translator
from .translator import Translation, TranslationRequest, Translator

__all__ = ["BackendFactory", "EngineRegistry", "MTEngine"]


class MTEngine:
    """One loaded translator shared by many sessions through a batching worker."""

    def __init__(self, backend: Translator, *, max_batch: int = 8) -> None:
        self.name = backend.name
        self.backend = backend
        self._engine: BatchingEngine[TranslationRequest, Translation] = BatchingEngine(
            backend.name,
            backend.translate_batch,
            key=lambda r: (r.source_lang, r.target_lang),
            max_batch=max_batch,
        )

    async def translate(self, request: TranslationRequest) -> Translation:
        return await self._engine.submit(request)

    @property
    def batches(self) -> int:
        return self._engine.batches

    @property
    def requests(self) -> int:
        return self._engine.requests

    def close(self) -> None:
        """Stop the worker, then free the model if the backend holds one."""
        self._engine.close()
        close_backend = getattr(self.backend, "close", None)
        if callable(close_backend):
            close_backend()


class _Closable(Protocol):
    def close(self) -> None: ...


E = TypeVar("E", bound=_Closable)
# (model source, *, device, compute_type, threads, max_new_tokens, family) -> a Translator;
# the default opens a .gguf file with llama.cpp and a folder with CTranslate2 (runtime.py)
BackendFactory = Callable[..., Translator]


class EngineRegistry:
    """Loads each engine once and shares it; `close()` closes every engine it made."""

    def __init__(self, *, mt_backend: BackendFactory = open_translator, max_batch: int = 8) -> None:
        self._mt_backend = mt_backend
        self._max_batch = max_batch
        self._engines: dict[tuple[str, Hashable], _Closable] = {}
        self._locks: dict[tuple[str, Hashable], threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads = 0  # engines created: tests assert one per model however many sessions

    def get(self, kind: str, key: Hashable, factory: Callable[[], E]) -> E:
        """The engine for (kind, key), made by `factory` on first use only; thread-safe."""
        slot = (kind, key)
        with self._guard:
            lock = self._locks.setdefault(slot, threading.Lock())
        with lock:  # one load per slot; loads of other models proceed meanwhile
            engine = self._engines.get(slot)
            if engine is None:
                engine = factory()
                with self._guard:
                    self._engines[slot] = engine
                    self.loads += 1
        return engine  # type: ignore[return-value]

    def loaded(self, kind: str) -> int:
        """How many engines of one kind ("asr", "mt", ...) this registry has made."""
        with self._guard:
            return sum(1 for k, _ in self._engines if k == kind)

    def mt(
        self,
        path: Path,
        compute: ComputeConfig,
        *,
        max_new_tokens: int = 160,
        family: str = "chatml",
    ) -> MTEngine:
        """The shared MT engine for a model folder on the configured device.

        Keyed by (folder, device, compute_type): the first caller's thread count and
        token limit hold for everyone who shares the engine.
        """
        device, compute_type = resolve_device(compute)
        path = Path(path).expanduser().resolve()

        def load() -> MTEngine:
            backend = self._mt_backend(
                path,
                device=device,
                compute_type=compute_type,
                threads=compute.mt_threads,
                max_new_tokens=max_new_tokens,
                family=family,
            )
            return MTEngine(backend, max_batch=self._max_batch)

        return self.get("mt", (path, device, compute_type), load)

    def close(self) -> None:
        with self._guard:
            engines, self._engines = list(self._engines.values()), {}
            self._locks.clear()
        for engine in engines:
            engine.close()
