"""The translator under the core budget, with a scripted slow engine on a scripted clock.

The engine moves the clock by a fixed cost per job (final, partial, fast partial), so
the budget measures exactly what the next job will cost; the driver plays the runner:
events are folded in when their time has come, work runs only while no event is due,
and a job once started runs to its end (a final that becomes due waits behind it).
"""

from dataclasses import dataclass, field

from pipeline.config import MTConfig
from pipeline.events import End, SpeechEnd, TargetCommit, TargetPartial
from pipeline.mt.stage import TranslateStage
from pipeline.mt.translator import Translation
from tests.support import FakeClock, commit

DELAY = 0.4  # seconds from a word's end to its source commit


@dataclass
class ScriptedEngine:
    """An MT engine that takes `cost` seconds of the scripted clock per job."""

    clock: FakeClock
    final: float
    partial: float
    name: str = "main"
    jobs: list = field(default_factory=list)  # (start, end, final, lang)

    async def translate(self, request):
        start = self.clock.t
        self.clock.t += self.final if request.final else self.partial
        self.jobs.append((start, self.clock.t, request.final, request.target_lang))
        return Translation(f"{self.name}:{request.source}", tokens=1, steps=1)


def talk(sentences: int = 4, pause: float = 0.0):
    """(time due, event): sentences of four words, committed two words at a time; after each,
    a pause of `pause` seconds that ends the utterance (none: one utterance)."""
    timeline, t = [], 0.0
    for k in range(sentences):
        utterance = k + 1 if pause else 1
        for half in ("a b", "c d."):
            event = commit(f"{half[0]}{k} {half[2:]}", t, utterance)
            timeline.append((event.end + DELAY, event))
            t = event.end + 0.05
        if pause:
            timeline.append((t + DELAY, SpeechEnd(stream="s", utterance=utterance, end=t)))
            t += pause
    if not pause:
        timeline.append((t + DELAY, SpeechEnd(stream="s", utterance=1, end=t)))
    return timeline


async def play(stage, clock, timeline):
    """[(time, event out)] as the runner would drive the stage on this clock."""
    out = []

    async def work():
        async for o in stage.work():
            out.append((clock.t, o))

    for due, event in timeline:
        while clock.t < due and stage.pending():
            await work()
        clock.t = max(clock.t, due)
        async for o in stage.process(event):
            out.append((clock.t, o))
    while stage.pending():
        await work()
    async for o in stage.process(End(stream="s")):
        out.append((clock.t, o))
    return out


def build(budget, *, final=0.5, partial=1.2, fast=0.3, targets=("de", "es"), deadline=3.0):
    clock = FakeClock()
    main = ScriptedEngine(clock, final, partial)
    small = ScriptedEngine(clock, fast, fast, name="fast") if fast else None
    config = MTConfig(targets=targets, budget=budget, final_deadline=deadline, speculative="off")
    return TranslateStage(main, config, clock=clock, fast_engine=small), clock, main, small


def finals(out):
    """Time to final of each target commit: emitted - end of its sentence."""
    return [round(t - o.end, 3) for t, o in out if isinstance(o, TargetCommit)]


def partials(out):
    return [o for _, o in out if isinstance(o, TargetPartial)]


async def test_finals_meet_their_deadline_under_the_budget_and_not_without():
    stage, clock, main, fast = build("auto")
    auto = await play(stage, clock, talk())
    stage_off, clock_off, *_ = build("off")
    off = await play(stage_off, clock_off, talk())
    assert len(finals(auto)) == len(finals(off)) == 8  # nothing committed is lost
    assert max(finals(auto)) <= 3.0 + 1e-9  # every final within its deadline
    assert max(finals(off)) > 3.0  # partials on both languages delay the finals
    report = stage.report().translator.budget
    assert report.late_finals == 0 and report.fast_partials > 0
    assert report.final_cost == 0.5 and report.partial_cost in (1.2, None)


async def test_no_partial_starts_while_a_final_waits_or_would_be_late():
    stage, clock, main, fast = build("auto")
    timeline = talk()
    out = await play(stage, clock, timeline)
    commits = [(t, o) for t, o in out if isinstance(o, TargetCommit)]
    jobs = sorted(main.jobs + fast.jobs)
    for start, end, is_final, lang in jobs:
        if is_final:
            continue
        for t, o in commits:  # a final done after this partial: was it due before it ended?
            if t > end and due_at(timeline, o) < end:
                assert t - o.end <= 3.0 + 1e-9, (start, end, lang, o)


def due_at(timeline, final):
    """When the final of a sentence became due: the first event after its last word."""
    return next(t for t, e in timeline if getattr(e, "start", e.end) > final.end - 1e-9)


async def test_partials_still_run_in_spare_time():
    # a pause of 2 s after each sentence: spare time for partials on the main model
    stage, clock, main, fast = build("auto", fast=None)
    out = await play(stage, clock, talk(pause=2.0))
    assert partials(out), "the budget left no partial although the translator was idle"
    assert max(finals(out)) <= 3.0 + 1e-9
    assert stage.report().translator.budget.fast_partials == 0


async def test_the_fast_model_takes_partials_only_when_the_main_one_does_not_fit():
    stage, clock, main, fast = build("auto", partial=2.5, fast=0.3, final=0.3)
    out = await play(stage, clock, talk(sentences=8))
    assert [j for j in fast.jobs], "the fast model fits where the main one does not"
    assert not any(not is_final for *_, is_final, _ in main.jobs[1:])  # after the first, measured
    assert max(finals(out)) <= 3.0 + 1e-9
    report = stage.report().translator.budget
    assert report.fast_partials == len(fast.jobs) and stage.report().translator.degraded


async def test_a_free_engine_is_never_deferred():
    """Compute that costs nothing (a simulated clock) delays nothing: the same as budget off."""
    outs = []
    for budget in ("auto", "off"):
        stage, clock, *_ = build(budget, final=0.0, partial=0.0, fast=None, deadline=0.5)
        outs.append([(t, o) for t, o in await play(stage, clock, talk())])
    assert outs[0] == outs[1]
