"""Shared engines: one loaded model serves many streams through a batching worker.

`BatchingEngine` owns one worker thread and a request queue. Requests from any
number of sessions (on any event loop) are grouped by a key (requests that can
share one backend call, e.g. the same target language), run as one batch, and
each caller's future is resolved with its own result. This is the seam where a
distributed engine (the same protocol served elsewhere) plugs in later.

Requests carry a priority: `LIVE` (the default: rooms, streams) or `BACKGROUND`
(whole files on a server). The worker always takes the oldest request of the most
urgent priority next, and never batches priorities together, so a live request
waits at most for the one batch in flight, however many file requests queue
ahead of it (docs/protocol.md, "Live first").

`MTEngine` puts a `Translator` behind a `BatchingEngine` (requests batched by
language pair: one pair shares one cached system prompt). The ASR engine
(`asr/engine.py`) does the same for Whisper.

`EngineRegistry` is created by the caller (the CLI, the server, a test), never a
module singleton: it loads each engine once per (kind, key) and hands the same
engine to every session that asks. Which backends it builds is its parameters
(`asr_backend`, `mt_backend`): fakes (`pipeline/fakes.py`) plug in there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from .asr.whisper_backend import WhisperBackend
from .compute import resolve_device
from .config import ComputeConfig
from .mt.runtime import open_translator
from .mt.translator import Translation, TranslationRequest, Translator

__all__ = ["BACKGROUND", "LIVE", "BackendFactory", "BatchingEngine", "EngineRegistry", "MTEngine"]

LIVE = 0  # rooms and streams: served first
BACKGROUND = 1  # whole files on a server: served when no live request waits
_SHUTDOWN = 1 << 30  # after every queued request

Req = TypeVar("Req")
Res = TypeVar("Res")


@dataclass(slots=True)
class _Job(Generic[Req]):
    request: Req
    loop: asyncio.AbstractEventLoop | None  # None: a blocking caller (`run`)
    future: asyncio.Future | concurrent.futures.Future = field(repr=False)
    priority: int = LIVE


class BatchingEngine(Generic[Req, Res]):
    """Runs `run_batch(requests) -> results` on a worker thread, batching by `key`."""

    def __init__(
        self,
        name: str,
        run_batch: Callable[[Sequence[Req]], list[Res]],
        *,
        key: Callable[[Req], Hashable] = lambda r: None,
        max_batch: int = 8,
    ) -> None:
        self.name = name
        self._run_batch = run_batch
        self._key = key
        self._max_batch = max_batch
        # (priority, arrival, job): the most urgent first, in order of arrival within it
        self._queue: queue.PriorityQueue[tuple[int, int, _Job | None]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._thread = threading.Thread(target=self._serve, name=f"engine-{name}", daemon=True)
        self._thread.start()
        self.batches = 0  # counters read by metrics observers and tests
        self.requests = 0

    async def submit(self, request: Req, priority: int = LIVE) -> Res:
        loop = asyncio.get_running_loop()
        job = _Job(request, loop, loop.create_future(), priority)
        self._put(job)
        return await job.future

    def run(self, request: Req, priority: int = LIVE) -> Res:
        """`submit` for a caller on a plain thread (never on an event loop): blocks."""
        job: _Job = _Job(request, None, concurrent.futures.Future(), priority)
        self._put(job)
        return job.future.result()  # type: ignore[return-value]

    def _put(self, job: _Job) -> None:
        self._queue.put((job.priority, next(self._arrivals), job))

    @property
    def waiting(self) -> int:
        """Requests queued, not yet taken into a batch."""
        return self._queue.qsize()

    def close(self) -> None:
        self._queue.put((_SHUTDOWN, next(self._arrivals), None))
        self._thread.join(timeout=10)

    def _take_batch(self) -> list[_Job] | None:
        first = self._queue.get()[2]
        if first is None:
            return None
        batch, held = [first], []
        key = self._key(first.request)
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            job = item[2]
            if job is None or job.priority != first.priority:
                held.append(item)  # the rest is less urgent: never in this batch
                break
            if self._key(job.request) == key:
                batch.append(job)
            else:
                held.append(item)
        for item in held:  # another key, priority or shutdown: served later, in its place
            self._queue.put(item)
        return batch

    def _serve(self) -> None:
        while (batch := self._take_batch()) is not None:
            batch = [job for job in batch if not job.future.cancelled()]
            if not batch:
                continue
            try:
                results: list[Any] = self._run_batch([job.request for job in batch])
                outcome = [(job, res, None) for job, res in zip(batch, results, strict=True)]
            except BaseException as exc:  # delivered to every caller of this batch
                outcome = [(job, None, exc) for job in batch]
            self.batches += 1
            self.requests += len(batch)
            for job, res, exc in outcome:
                if job.loop is None:  # a blocking caller
                    _resolve(job.future, res, exc)  # type: ignore[arg-type]
                    continue
                if job.loop.is_closed():  # the caller went away (its loop ended): nobody to tell
                    continue
                try:
                    job.loop.call_soon_threadsafe(_resolve, job.future, res, exc)
                except RuntimeError:  # closed between the check and the call
                    pass


def _resolve(
    future: asyncio.Future | concurrent.futures.Future, result: Any, exc: BaseException | None
) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


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

    async def translate(self, request: TranslationRequest, priority: int = LIVE) -> Translation:
        return await self._engine.submit(request, priority)

    @property
    def waiting(self) -> int:
        return self._engine.waiting

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
# the default opens a .gguf file with llama.cpp and a folder with CTranslate2 (mt/runtime.py)
BackendFactory = Callable[..., Translator]
# (model path, *, device, compute_type, threads, padding, beam_size, no_speech_threshold)
# -> an ASRBackend
ASRBackendFactory = Callable[..., Any]


class EngineRegistry:
    """Loads each engine once and shares it; `close()` closes every engine it made."""

    def __init__(
        self,
        *,
        mt_backend: BackendFactory = open_translator,
        asr_backend: ASRBackendFactory = WhisperBackend,
        max_batch: int = 8,
    ) -> None:
        self._mt_backend = mt_backend
        self.asr_backend = asr_backend  # the factory wraps it in an ASREngine
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
        """The shared MT engine for a model source (a .gguf file or a CTranslate2 folder,
        `mt/runtime.py`) on the configured device.

        Keyed by (source, device, compute_type): the first caller's thread count and
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
