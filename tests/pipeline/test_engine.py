"""The batching engine's priorities: a live request waits for at most the batch in flight."""

from __future__ import annotations

import asyncio
import threading

from pipeline.engine import BACKGROUND, LIVE, BatchingEngine


class Held:
    """A run_batch that records each batch and holds the first until released."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.gate = threading.Event()

    def __call__(self, requests):
        self.batches.append(list(requests))
        self.started.set()
        assert self.gate.wait(10)
        return [r.upper() for r in requests]


def test_live_requests_jump_the_queue_of_background_ones():
    held = Held()
    engine = BatchingEngine("t", held, key=lambda r: r[0], max_batch=2)

    async def main():
        first = asyncio.ensure_future(engine.submit("f0", BACKGROUND))
        await asyncio.to_thread(held.started.wait, 10)  # f0 is in flight, alone
        files = [asyncio.ensure_future(engine.submit(f"f{i}", BACKGROUND)) for i in range(1, 7)]
        await asyncio.sleep(0.05)
        live = [asyncio.ensure_future(engine.submit(f"l{i}", LIVE)) for i in range(3)]
        await asyncio.sleep(0.05)
        held.gate.set()
        return await asyncio.gather(first, *files, *live)

    try:
        results = asyncio.run(main())
    finally:
        engine.close()
    assert results[:7] == [f"F{i}" for i in range(7)] and results[7:] == ["L0", "L1", "L2"]
    # the batch in flight, then every live request (never batched with a file's), then the rest
    assert held.batches == [["f0"], ["l0", "l1"], ["l2"], ["f1", "f2"], ["f3", "f4"], ["f5", "f6"]]


def test_a_blocking_caller_on_a_plain_thread_is_served():
    held = Held()
    held.gate.set()
    engine = BatchingEngine("t", held, key=lambda r: r[0], max_batch=8)
    try:
        assert engine.run("ab", BACKGROUND) == "AB"  # from a plain thread
    finally:
        engine.close()


async def test_a_pipeline_built_at_background_sends_every_whisper_pass_at_it(tmp_path):
    """`/v1`'s stream=true runs a file through the streaming pipeline: its passes (and
    detections) must queue behind live rooms', like the whole-file path's batches."""
    import dataclasses

    from pipeline.events import SourceCommit
    from pipeline.factory import asr_engine, build_pipeline
    from pipeline.fakes import fake_config, fake_registry
    from tests.support import ArraySource, speech_samples

    registry = fake_registry()
    config = fake_config(tmp_path)
    config = dataclasses.replace(config, mt=dataclasses.replace(config.mt, targets=()))
    engine = asr_engine(registry, config)
    seen: list[int] = []
    submit = engine._engine.submit

    async def recording(request, priority=LIVE):
        seen.append(priority)
        return await submit(request, priority)

    engine._engine.submit = recording
    for priority in (LIVE, BACKGROUND):
        seen.clear()
        source = ArraySource(speech_samples(2), stream=f"p{priority}")
        events = [
            e async for e in build_pipeline(config, source, registry, priority=priority).run()
        ]
        assert any(isinstance(e, SourceCommit) for e in events)
        assert seen and set(seen) == {priority}
    registry.close()
