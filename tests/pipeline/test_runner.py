"""The runner with fake sources and stages: linking, stamping, clocks, failures."""

import asyncio

import numpy as np
import pytest

from pipeline.clock import RealClock, SimulatedClock
from pipeline.config import MTConfig
from pipeline.engine import MTEngine
from pipeline.errors import AudioInputError, ConfigError
from pipeline.events import (
    AddTarget,
    AudioChunk,
    End,
    Error,
    SourceCommit,
    SourcePartial,
    TargetCommit,
    TargetPartial,
    Word,
)
from pipeline.fakes import FakeTranslator
from pipeline.mt.stage import TranslateStage
from pipeline.mt.translator import Translation
from pipeline.runner import Pipeline
from pipeline.stage import Capabilities, Stage
from tests.support import FakeEngine


class FakeSource:
    def __init__(self, n=5, fail_after=None, forever=False):
        self.n, self.fail_after, self.forever = n, fail_after, forever
        self.closed = 0

    async def chunks(self, clock):
        i = 0
        while self.forever or i < self.n:
            if self.fail_after is not None and i == self.fail_after:
                raise AudioInputError("cannot read audio from x: truncated")
            chunk = AudioChunk(stream="s", start=i * 0.1, samples=np.zeros(1600, np.float32))
            await clock.sleep_until(chunk.end)
            yield chunk
            i += 1

    async def close(self):
        self.closed += 1


class Counter(Stage):
    """Turns each chunk into a partial; on End reports how many it saw."""

    def __init__(self):
        self.seen = 0

    async def process(self, event):
        if isinstance(event, AudioChunk):
            self.seen += 1
            yield SourcePartial(stream="s", utterance=0, lang="en", text=f"{event.start:.1f}")
            return
        if isinstance(event, End):
            yield SourcePartial(stream="s", utterance=0, lang="en", text=f"total {self.seen}")
        yield event


class Deferred(Counter):
    """Deferred work after every chunk, `delay` seconds of wall time each: a simulated clock
    must wait for it; declaring `overlaps` (like the translator) lets `process()` overtake it."""

    capabilities = Capabilities(deferred=True)

    def __init__(self, delay=0.01, *, echo=False, lang="en", text="done"):
        super().__init__()
        self.todo = 0
        self.delay = delay
        self.echo = echo  # forward each chunk as a source partial right away
        self.lang, self.text = lang, text

    async def process(self, event):
        if isinstance(event, AudioChunk):
            self.todo += 1
            if self.echo:
                yield SourcePartial(stream="s", utterance=0, lang="en", text=f"src {event.end:.1f}")
            return
        while isinstance(event, End) and self.pending():  # a stage finishes its work at End
            async for out in self.work():
                yield out
        async for out in super().process(event):
            yield out

    def pending(self):
        return self.todo > 0

    async def work(self):
        self.todo -= 1
        await asyncio.sleep(self.delay)
        self.seen += 1
        yield SourcePartial(stream="s", utterance=0, lang=self.lang, text=self.text)


class Overlapping(Deferred):
    capabilities = Capabilities(deferred=True, overlaps=True)


def slow_translator():
    """0.3 s of work per chunk that the runner may overtake with source events."""
    return Overlapping(0.3, echo=True, lang="de", text="work")


class Broken(Counter):
    async def process(self, event):
        if isinstance(event, AudioChunk) and event.start > 0.25:
            raise RuntimeError("boom")
        async for out in super().process(event):
            yield out


async def collect(pipeline):
    return [e async for e in pipeline.run()]


async def test_events_flow_and_are_stamped():
    source = FakeSource(5)
    out = await collect(Pipeline(source, [Counter()], clock=SimulatedClock(), stream="s"))
    assert [e.text for e in out[:-1]] == ["0.0", "0.1", "0.2", "0.3", "0.4", "total 5"]
    assert isinstance(out[-1], End)
    assert all(e.emitted is not None for e in out)
    assert source.closed >= 1


async def test_simulated_clock_waits_for_deferred_work():
    stage = Deferred()
    out = await collect(Pipeline(FakeSource(5), [stage], clock=SimulatedClock(), stream="s"))
    done = [e for e in out if isinstance(e, SourcePartial) and e.text == "done"]
    # each chunk's work finished before the clock moved on: emitted = that chunk's end
    assert [e.emitted for e in done] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert out[-2].text == "total 5"


async def test_simulated_runs_are_repeatable():
    runs = [
        await collect(
            Pipeline(FakeSource(8), [Deferred(), Counter()], clock=SimulatedClock(), stream="s")
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


async def test_real_clock_paces_the_source():
    out = await collect(Pipeline(FakeSource(3), [Counter()], clock=RealClock(), stream="s"))
    assert out[-1].emitted >= 0.29


async def test_source_error_flushes_stages_and_reports():
    out = await collect(
        Pipeline(FakeSource(5, fail_after=3), [Counter()], clock=SimulatedClock(), stream="s")
    )
    errors = [e for e in out if isinstance(e, Error)]
    assert len(errors) == 1 and errors[0].code == "bad_audio" and "truncated" in errors[0].message
    assert "total 3" in [getattr(e, "text", None) for e in out]  # what was read still flushed
    assert isinstance(out[-1], End)


async def test_stage_failure_becomes_error_and_end():
    out = await asyncio.wait_for(
        collect(
            Pipeline(FakeSource(50), [Broken(), Counter()], clock=SimulatedClock(), stream="s")
        ),
        10,
    )
    assert [type(e).__name__ for e in out[-2:]] == ["Error", "End"]
    assert out[-2].code == "internal" and "boom" in out[-2].message


async def test_end_input_stops_an_endless_source_and_flushes():
    pipeline = Pipeline(FakeSource(forever=True), [Counter()], clock=RealClock(), stream="s")
    out = []

    async def consume():
        async for e in pipeline.run():
            out.append(e)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.35)
    pipeline.end_input()
    await asyncio.wait_for(task, 5)
    assert out[-2].text.startswith("total ") and isinstance(out[-1], End)


async def test_queues_are_bounded():
    pipeline = Pipeline(
        FakeSource(1), [Counter(), Counter()], clock=SimulatedClock(), stream="s", queue_size=7
    )
    assert all(q.maxsize == 7 for q in pipeline._queues)
    await collect(pipeline)


async def test_events_overtake_slow_work_on_a_real_clock():
    out = await collect(Pipeline(FakeSource(6), [slow_translator()], clock=RealClock(), stream="s"))
    forwarded = [e for e in out if isinstance(e, SourcePartial) and e.text.startswith("src")]
    assert len(forwarded) == 6
    for e in forwarded:  # each chunk came out right away, not behind 0.3 s units of work
        assert e.emitted - float(e.text.split()[1]) < 0.2
    assert [e.text for e in out if getattr(e, "lang", None) == "de"] == ["work"] * 6
    assert out[-2].text == "total 6" and isinstance(out[-1], End)


async def test_simulated_clock_keeps_slow_work_in_order():
    out = await collect(
        Pipeline(FakeSource(3), [slow_translator()], clock=SimulatedClock(), stream="s")
    )
    assert [e.text for e in out[:-2]] == ["src 0.1", "work", "src 0.2", "work", "src 0.3", "work"]


class FailingTranslator(Overlapping):
    def __init__(self):
        super().__init__(0.05, echo=True)

    async def work(self):
        self.todo -= 1
        await asyncio.sleep(self.delay)
        raise RuntimeError("model crashed")
        yield  # pragma: no cover


async def test_failing_concurrent_work_becomes_error_and_end():
    out = await asyncio.wait_for(
        collect(Pipeline(FakeSource(20), [FailingTranslator()], clock=RealClock(), stream="s")), 10
    )
    assert [type(e).__name__ for e in out[-2:]] == ["Error", "End"] and "model crashed" in out[
        -2
    ].message


class CommitEvery(Counter):
    """An ASR stand-in: commits one word every third chunk."""

    async def process(self, event):
        if isinstance(event, AudioChunk):
            self.seen += 1
            if self.seen % 3 == 0:
                word = Word(f"w{self.seen}", event.start, event.end)
                yield SourceCommit(
                    stream="s",
                    utterance=0,
                    lang="en",
                    text=word.word,
                    words=(word,),
                    start=event.start,
                    end=event.end,
                )
            return
        yield event


class SlowEngine(FakeEngine):
    async def translate(self, request):
        await asyncio.sleep(0.05)  # wall time: the simulated clock must not move meanwhile
        return Translation(request.source, tokens=1, steps=1)


async def test_simulated_clock_stands_still_while_the_translator_awaits_its_model():
    clock = SimulatedClock()
    stage = TranslateStage(SlowEngine(), MTConfig(targets=("de",), speculative="off"), clock=clock)
    out = await collect(Pipeline(FakeSource(12), [CommitEvery(), stage], clock=clock, stream="s"))
    committed = {e.text: e.emitted for e in out if isinstance(e, SourceCommit)}
    translations = [e for e in out if isinstance(e, (TargetPartial, TargetCommit))]
    assert len(translations) == len(committed) == 4
    for translation in translations:  # compute is free: each leaves with the word it ends with
        assert translation.emitted == committed[translation.text.split()[-1]]


class Endless(FakeSource):
    """Chunks until closed (a microphone)."""

    def __init__(self):
        super().__init__(forever=True)

    async def chunks(self, clock):
        i = 0
        while not self.closed:
            chunk = AudioChunk(stream="s", start=i * 0.1, samples=np.zeros(1600, np.float32))
            await clock.sleep_until(chunk.end)
            yield chunk
            i += 1


async def test_switching_the_input_keeps_the_stream_contiguous():
    first, second = Endless(), FakeSource(3)
    pipeline = Pipeline(first, [Counter()], clock=RealClock(), stream="s")
    out = []
    async for event in pipeline.run():
        out.append(event)
        if len(out) == 3:
            pipeline.switch_input(second)
    starts = [float(e.text) for e in out if isinstance(e, SourcePartial) and " " not in e.text]
    assert starts == pytest.approx([round(0.1 * i, 1) for i in range(len(starts))])
    assert first.closed and second.closed and len(starts) >= 6
    assert pipeline.stats().audio_seconds == pytest.approx(0.1 * len(starts))


async def test_control_is_sent_in_band_and_the_stats_snapshot_reads_the_translator():
    clock = SimulatedClock()
    engine = MTEngine(FakeTranslator())  # a real shared engine on a fake model: it counts
    stage = TranslateStage(engine, MTConfig(targets=("de",), speculative="off"), clock=clock)
    source = FakeSource(12)
    pipeline = Pipeline(source, [CommitEvery(), stage], clock=clock, stream="s", engines=[engine])
    out = []
    async for event in pipeline.run():
        out.append(event)
        if isinstance(event, SourceCommit) and len(out) < 3:
            await pipeline.send(AddTarget(stream="s", lang="es"))
    assert not [e for e in out if isinstance(e, AddTarget)]  # control never leaves
    assert {e.lang for e in out if isinstance(e, TargetCommit)} == {"de", "es"}
    stats = pipeline.stats()
    assert stats.translator.targets == ("de", "es") and stats.translator.steps > 0
    assert set(stats.busy) == {"CommitEvery", "TranslateStage"}
    assert stats.engines[0].requests > 0 and stats.target_lag is not None
    engine.close()


def test_overlapping_work_must_be_declared_deferred():
    with pytest.raises(ConfigError):
        Capabilities(overlaps=True)
