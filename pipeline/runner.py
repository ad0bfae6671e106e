"""The runner: links a source and stages with bounded queues.

It alone owns queues, linking, cancellation and backpressure. It stamps
`emitted` on every event that leaves the pipeline, from the clock in use, and
tells observers. A failing source flushes the stages (nothing committed is lost)
and reports an error event; a failing stage becomes an error event and an
orderly shutdown instead of a hung pipeline.

Front ends steer a running pipeline only through the runner: `send()` puts a
control event (`SetTargets`, `AddTarget`, `Flush`) in band at the head of the
stages, `switch_input()` goes on from another source on the same stream clock,
`end_input()` stops reading audio; and they read it through `stats()`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from .errors import RttError
from .events import (
    CONTROL_EVENTS,
    AddTarget,
    End,
    Error,
    Event,
    Flush,
    SetTargets,
    SourceCommit,
    TargetCommit,
)
from .stage import Clock, Source, Stage
from .stats import CountedEngine, EngineStats, PipelineStats, StageStats

__all__ = ["Observer", "Pipeline"]


class Observer(Protocol):
    def on_event(self, event: Event) -> None: ...


def error_event(stream: str, exc: BaseException) -> Error:
    if isinstance(exc, RttError):
        return Error(stream=stream, code=exc.code, message=str(exc))
    return Error(stream=stream, code="internal", message=f"{type(exc).__name__}: {exc}")


class Pipeline:
    def __init__(
        self,
        source: Source,
        stages: Sequence[Stage],
        *,
        clock: Clock,
        stream: str,
        observers: Sequence[Observer] = (),
        queue_size: int = 512,
        engines: Sequence[CountedEngine] = (),
    ) -> None:
        """`engines`: the shared engines the stages use, whose counters `stats()` shows."""
        self.source = source
        self.stages = list(stages)
        self.clock = clock
        self.stream = stream
        self.observers = list(observers)
        self._engines = list(engines)
        self._queues: list[asyncio.Queue[Event]] = [
            asyncio.Queue(queue_size) for _ in range(len(self.stages) + 1)
        ]
        self._inflight = 0  # events queued or being processed, and work in flight
        self._changed = asyncio.Event()
        self._busy = [0.0] * len(self.stages)  # seconds in process/work, per stage
        self._feeder: asyncio.Task | None = None
        self._input_ended = False
        self._next_source: Source | None = None
        self._audio_end = 0.0  # stream time of the audio fed so far
        self._lags: dict[type, float] = {}
        clock.bind(self.wait_idle)

    # -- idleness, for the simulated clock ------------------------------------
    def idle(self) -> bool:
        if self._inflight:
            return False
        return not any(s.capabilities.deferred and s.pending() for s in self.stages)

    async def wait_idle(self) -> None:
        while not self.idle():
            self._changed.clear()
            await self._changed.wait()

    async def _put(self, index: int, event: Event) -> None:
        self._inflight += 1
        await self._queues[index].put(event)

    def _done(self) -> None:
        self._inflight -= 1
        self._changed.set()

    # -- the source -------------------------------------------------------------
    async def _feed(self) -> None:
        try:
            while True:
                source = self.source
                await self._feed_from(source)
                if self._next_source is None:
                    break
                self.source, self._next_source = self._next_source, None
        except asyncio.CancelledError:
            if not self._input_ended:
                raise  # torn down, not ended: nothing more to do
        except Exception as exc:  # the stages still flush what they hold
            await self._put(len(self.stages), error_event(self.stream, exc))
        finally:
            await self.source.close()
        await self._put(0, End(stream=self.stream))

    async def _feed_from(self, source: Source) -> None:
        """One source's chunks, re-stamped after a switch so the stream stays contiguous."""
        shift: float | None = None
        try:
            async for chunk in source.chunks(self.clock):
                if shift is None:
                    shift = self._audio_end - chunk.start if self._audio_end else 0.0
                if shift:
                    chunk = dataclasses.replace(chunk, start=chunk.start + shift)
                self._audio_end = chunk.end
                await self._put(0, chunk)
        finally:
            await source.close()

    # -- driving a stage ----------------------------------------------------------
    async def _drive(self, index: int, stage: Stage) -> None:
        """The one drive loop: events in order; deferred work while the inbox is empty.

        A stage that declares `overlaps` keeps taking events while its work is in
        flight (on a real clock); control events wait for that work, so nothing
        finishes out of order. Otherwise work runs to its end before the next event.
        """
        inbox = self._queues[index]
        overlap = stage.capabilities.overlaps and not self.clock.simulated
        worker: asyncio.Task | None = None
        try:
            while True:
                if worker is not None and worker.done():
                    worker.result()  # a failure of the work re-raises here
                if _free(worker) and self._may_work(stage, inbox):
                    worker = self._start_work(index, stage)
                if not _free(worker) and not overlap:
                    await worker
                    continue
                event = await self._next_event(inbox, worker)
                if event is None:  # the work finished first
                    continue
                if worker is not None and (worker.done() or isinstance(event, _WAITS_FOR_WORK)):
                    await worker  # a failure of the work re-raises here
                await self._forward(index, stage.process(event))
                self._done()
                if isinstance(event, End):
                    return
        finally:
            if worker is not None and not worker.done():
                worker.cancel()

    @staticmethod
    def _may_work(stage: Stage, inbox: asyncio.Queue) -> bool:
        return stage.capabilities.deferred and inbox.empty() and stage.pending()

    def _start_work(self, index: int, stage: Stage) -> asyncio.Task:
        # in flight until done: a stage may take its job off `pending()` before it
        # awaits the model, and a simulated clock must not move meanwhile
        self._inflight += 1

        async def work() -> None:
            try:
                await self._forward(index, stage.work())
            finally:
                self._done()

        return asyncio.create_task(work(), name=f"{type(stage).__name__}-work")

    @staticmethod
    async def _next_event(inbox: asyncio.Queue, worker: asyncio.Task | None) -> Event | None:
        """The next input event, or None when the work in flight finishes first."""
        if _free(worker):
            return await inbox.get()
        getter = asyncio.ensure_future(inbox.get())
        await asyncio.wait({getter, worker}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        worker.result()  # re-raise a failure of the work
        return None

    async def _forward(self, index: int, outputs: AsyncIterator[Event]) -> None:
        """Pass a stage's outputs on; its busy time excludes waiting on the next queue."""
        started = time.perf_counter()
        async for out in outputs:
            self._busy[index] += time.perf_counter() - started
            await self._put(index + 1, out)
            started = time.perf_counter()
        self._busy[index] += time.perf_counter() - started

    async def _guard(self, index: int, stage: Stage) -> None:
        try:
            await self._drive(index, stage)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._put(len(self.stages), error_event(self.stream, exc))
            await self._put(len(self.stages), End(stream=self.stream))

    # -- steering and reading a running pipeline ---------------------------------
    async def send(self, control: SetTargets | AddTarget | Flush) -> None:
        """Steer the running stages in band: the control event follows the audio already in."""
        if not isinstance(control, CONTROL_EVENTS):
            raise TypeError(f"{type(control).__name__} is not a control event")
        await self._put(0, control)

    def switch_input(self, source: Source) -> None:
        """Go on from `source` (another microphone) on the same stream clock."""
        if self._feeder is None or self._input_ended:
            raise RuntimeError("switch_input() needs a running pipeline that still reads audio")
        self._next_source = source
        asyncio.ensure_future(self.source.close())  # its chunks() ends; the feeder goes on

    def end_input(self) -> None:
        """Stop reading audio (e.g. Ctrl-C on a microphone); what is buffered still flushes."""
        if self._feeder is not None and not self._input_ended:
            self._input_ended = True
            self._feeder.cancel()

    def stats(self) -> PipelineStats:
        """One consistent snapshot of the running pipeline, for front ends and metrics."""
        return PipelineStats(
            stream=self.stream,
            now=round(self.clock.now(), 3),
            audio_seconds=round(self._audio_end, 3),
            stages=tuple(
                StageStats(type(s).__name__, busy, s.report())
                for s, busy in zip(self.stages, self._busy, strict=True)
            ),
            source_lag=self._lags.get(SourceCommit),
            target_lag=self._lags.get(TargetCommit),
            engines=tuple(EngineStats(e.name, e.batches, e.requests) for e in self._engines),
        )

    # -- public ---------------------------------------------------------------
    async def run(self) -> AsyncIterator[Event]:
        """Yield every event that leaves the last stage, stamped; ends after `End`."""
        for stage in self.stages:
            await stage.start()
        self.clock.start()
        self._feeder = asyncio.create_task(self._feed(), name="source")
        tasks = [self._feeder]
        tasks += [
            asyncio.create_task(self._guard(i, s), name=type(s).__name__)
            for i, s in enumerate(self.stages)
        ]
        try:
            while True:
                event = await self._queues[-1].get()
                self._done()
                if isinstance(event, CONTROL_EVENTS):  # internal: never an output
                    continue
                event = dataclasses.replace(event, emitted=round(self.clock.now(), 3))
                self._observe(event)
                yield event
                if isinstance(event, End):
                    break
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.source.close()
            for stage in self.stages:
                await stage.stop()

    def _observe(self, event: Event) -> None:
        if isinstance(event, (SourceCommit, TargetCommit)) and event.emitted is not None:
            self._lags[type(event)] = round(event.emitted - event.end, 3)
        for observer in self.observers:
            observer.on_event(event)


# Control waits for the work in flight of an overlapping stage: nothing finishes out of order.
_WAITS_FOR_WORK = (End, *CONTROL_EVENTS)


def _free(worker: asyncio.Task | None) -> bool:
    return worker is None or worker.done()
