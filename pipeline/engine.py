"""Shared engines: one loaded model serves many streams through a batching worker.

`BatchingEngine` owns one worker thread and a request queue. Requests from any
number of sessions (on any event loop) are grouped by a key (requests that can
share one backend call, e.g. the same target language), run as one batch, and
each caller's future is resolved with its own result. This is the seam where a
distributed engine (the same protocol served elsewhere) plugs in later.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["BatchingEngine"]

Req = TypeVar("Req")
Res = TypeVar("Res")


@dataclass(slots=True)
class _Job(Generic[Req]):
    request: Req
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future = field(repr=False)


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
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name=f"engine-{name}", daemon=True)
        self._thread.start()
        self.batches = 0  # counters read by metrics observers and tests
        self.requests = 0

    async def submit(self, request: Req) -> Res:
        loop = asyncio.get_running_loop()
        job = _Job(request, loop, loop.create_future())
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _take_batch(self) -> list[_Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch, held = [first], []
        key = self._key(first.request)
        while len(batch) < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                held.append(job)
                break
            (batch if self._key(job.request) == key else held).append(job)
        for job in held:  # different key or shutdown: serve on a later turn
            self._queue.put(job)
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
                if job.loop.is_closed():  # the caller went away (its loop ended): nobody to tell
                    continue
                try:
                    job.loop.call_soon_threadsafe(_resolve, job.future, res, exc)
                except RuntimeError:  # closed between the check and the call
                    pass


def _resolve(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
