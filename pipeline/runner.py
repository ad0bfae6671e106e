"""The runner: links a source and stages with bounded queues.

It alone owns queues, linking, cancellation and backpressure. It stamps
`emitted` on every event that leaves the pipeline, from the clock in use, and
tells observers. A failing source flushes the stages (nothing committed is lost)
and reports an error event; a failing stage becomes an error event and an
orderly shutdown instead of a hung pipeline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from .errors import RttError
from .events import End, Error, Event, Flush
from .stage import Clock, DeferredWork, Source, Stage

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
    ) -> None:
        self.source = source
        self.stages = list(stages)
        self.clock = clock
        self.stream = stream
        self.observers = list(observers)
        self._queues = [asyncio.Queue(queue_size) for _ in range(len(self.stages) + 1)]
        self._inflight = 0  # events queued or being processed
        self._changed = asyncio.Event()
        self.busy: dict[str, float] = {
            type(s).__name__: 0.0 for s in self.stages
        }  # seconds in process/work
        self._feeder: asyncio.Task | None = None
        self._input_ended = False
        if hasattr(clock, "bind"):
            clock.bind(self.wait_idle)  # type: ignore[attr-defined]

    # -- idleness, for the simulated clock ------------------------------------
    def idle(self) -> bool:
        if self._inflight:  # events queued or being processed, and work in flight
            return False
        return not any(isinstance(s, DeferredWork) and s.pending() for s in self.stages)

    async def wait_idle(self) -> None:
        while not self.idle():
            self._changed.clear()
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()

    async def _put(self, index: int, event: Event) -> None:
        self._inflight += 1
        await self._queues[index].put(event)

    def _done(self) -> None:
        self._inflight -= 1
        self._notify()

    # -- tasks ----------------------------------------------------------------
    async def _feed(self) -> None:
        try:
            async for chunk in self.source.chunks(self.clock):
                await self._put(0, chunk)
        except asyncio.CancelledError:
            if not self._input_ended:
                raise  # torn down, not ended: nothing more to do
        except Exception as exc:  # the stages still flush what they hold
            await self._put(len(self.stages), error_event(self.stream, exc))
        finally:
            await self.source.close()
        await self._put(0, End(stream=self.stream))

    def end_input(self) -> None:
        """Stop reading audio (e.g. Ctrl-C on a microphone); what is buffered still flushes."""
        if self._feeder is not None and not self._input_ended:
            self._input_ended = True
            self._feeder.cancel()

    async def _drive(self, index: int, stage: Stage) -> None:
        inbox = self._queues[index]
        deferred = stage if isinstance(stage, DeferredWork) else None
        if (
            deferred is not None
            and getattr(stage, "concurrent_work", False)
            and not getattr(self.clock, "simulated", False)
        ):
            return await self._drive_concurrent(index, stage, deferred)
        name = type(stage).__name__
        while True:
            if deferred is not None and inbox.empty() and deferred.pending():
                # in flight until done: a stage may take its job off `pending()` before
                # it awaits the model, and a simulated clock must not move meanwhile
                self._inflight += 1
                await self._forward(index, name, deferred.work())
                self._done()
                continue
            event = await inbox.get()
            await self._forward(index, name, stage.process(event))
            self._done()
            if isinstance(event, End):
                return

    async def _drive_concurrent(self, index: int, stage: Stage, deferred: DeferredWork) -> None:
        """Like `_drive`, but events keep flowing while one unit of work is in flight.

        For stages whose `process()` only updates state (the translator): source
        events are not held back behind a multi-second translation. Control events
        wait for the work in flight, so nothing finishes out of order. Only on a
        real clock: on the simulated clock compute is free and the order stays exact.
        """
        inbox, name = self._queues[index], type(stage).__name__
        worker: asyncio.Task | None = None
        try:
            while True:
                if (worker is None or worker.done()) and inbox.empty() and deferred.pending():
                    worker = asyncio.create_task(self._forward(index, name, deferred.work()))
                if worker is not None and not worker.done():
                    getter = asyncio.ensure_future(inbox.get())
                    await asyncio.wait({getter, worker}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        worker.result()  # re-raise a failure of the work
                        continue
                    event = getter.result()
                else:
                    event = await inbox.get()
                if worker is not None and (worker.done() or isinstance(event, (End, Flush))):
                    await worker  # control waits for the work in flight; a failure re-raises
                await self._forward(index, name, stage.process(event))
                self._done()
                if isinstance(event, End):
                    return
        finally:
            if worker is not None and not worker.done():
                worker.cancel()

    async def _forward(self, index: int, name: str, outputs: AsyncIterator[Event]) -> None:
        """Pass a stage's outputs on; its busy time excludes waiting on the next queue."""
        started = time.perf_counter()
        async for out in outputs:
            self.busy[name] += time.perf_counter() - started
            await self._put(index + 1, out)
            started = time.perf_counter()
        self.busy[name] += time.perf_counter() - started

    async def _guard(self, index: int, stage: Stage) -> None:
        try:
            await self._drive(index, stage)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            out = self._queues[-1]
            await out.put(error_event(self.stream, exc))
            await out.put(End(stream=self.stream))
            self._inflight += 2

    # -- public ---------------------------------------------------------------
    async def run(self) -> AsyncIterator[Event]:
        """Yield every event that leaves the last stage, stamped; ends after `End`."""
        for stage in self.stages:
            await stage.start()
        self.clock.start()  # type: ignore[attr-defined]
        self._feeder = asyncio.create_task(self._feed(), name="source")
        tasks = [self._feeder]
        tasks += [
            asyncio.create_task(self._guard(i, s), name=type(s).__name__)
            for i, s in enumerate(self.stages)
        ]
        try:
            while True:
                event = await self._queues[-1].get()
                event = dataclasses.replace(event, emitted=round(self.clock.now(), 3))
                for observer in self.observers:
                    observer.on_event(event)
                self._done()
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
