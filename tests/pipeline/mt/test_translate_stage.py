"""The translation stage's scheduling, with a fake engine (the model is not the point here)."""

import asyncio

from pipeline.config import MTConfig
from pipeline.events import End, SourceCommit, SpeechEnd, TargetCommit, TargetPartial, Word
from pipeline.mt.stage import TranslateStage
from pipeline.mt.translator import Translation


class FakeEngine:
    def __init__(self, name="main"):
        self.name = name
        self.requests = []

    async def translate(self, request):
        self.requests.append(request)
        await asyncio.sleep(0)
        return Translation(f"{self.name}:{request.target_lang}:{request.source}", tokens=1, steps=1)


def commit(text, start, utt=1):
    words = tuple(
        Word(w, start + i * 0.3, start + i * 0.3 + 0.25) for i, w in enumerate(text.split())
    )
    return SourceCommit(
        stream="s",
        utterance=utt,
        lang="en",
        text=text,
        words=words,
        start=words[0].start,
        end=words[-1].end,
    )


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t


def make(engine, clock=None, fast=None, **config):
    return TranslateStage(engine, MTConfig(**config), clock=clock or FakeClock(), fast_engine=fast)


async def run(stage, events, interleave=True):
    out = []
    for e in events:
        async for o in stage.process(e):
            out.append(o)
        while interleave and stage.pending():
            async for o in stage.work():
                out.append(o)
    return [o for o in out if isinstance(o, (TargetPartial, TargetCommit, End))]


async def test_partials_then_commit_per_language():
    engine = FakeEngine()
    stage = make(engine, targets=("de", "es"))
    out = await run(
        stage,
        [
            commit("Good morning", 0),
            commit("everyone.", 1),
            SpeechEnd(stream="s", utterance=1, end=2),
            End(stream="s"),
        ],
    )
    partials = [o for o in out if isinstance(o, TargetPartial)]
    commits = [o for o in out if isinstance(o, TargetCommit)]
    assert {p.lang for p in partials} == {"de", "es"}
    assert [(c.lang, c.text) for c in commits] == [
        ("de", "main:de:Good morning everyone."),
        ("es", "main:es:Good morning everyone."),
    ]
    assert commits[0].start == 0 and commits[0].sentence == 0
    assert isinstance(out[-1], End)


async def test_stale_partials_are_skipped_and_commits_are_not():
    engine = FakeEngine()
    stage = make(engine, targets=("de",))
    # no work between events: the translator is "behind"
    events = [commit("one", 0), commit("two", 1), commit("three.", 2), commit("Next", 3)]
    out = await run(stage, events, interleave=False)
    assert out == []
    out = await run(stage, [End(stream="s")])
    texts = [o.text for o in out if isinstance(o, TargetCommit)]
    assert texts == ["main:de:one two three.", "main:de:Next"]
    assert out[-1] == End(stream="s")
    assert not any(isinstance(o, TargetPartial) for o in out)


async def test_draft_is_the_previous_translation():
    engine = FakeEngine()
    stage = make(engine, targets=("de",))
    await run(stage, [commit("Hello", 0), commit("world", 1)])
    assert engine.requests[0].draft is None
    assert engine.requests[1].draft == "main:de:Hello"


async def test_lagging_partials_switch_to_the_fast_model_and_back():
    main, fast, clock = FakeEngine("main"), FakeEngine("fast"), FakeClock()
    stage = make(main, clock, fast, targets=("de",), fallback_lag=2.0, recover_lag=1.0)
    clock.t = 1.0
    await run(stage, [commit("a b", 0)])
    assert len(main.requests) == 1 and not fast.requests
    clock.t = 6.0  # the translator now starts jobs 5 s behind the audio
    await run(stage, [commit("c", 0.6)])
    assert stage.degraded and fast.requests[-1].source == "a b c"
    out = await run(stage, [SpeechEnd(stream="s", utterance=1, end=1.2)])
    assert [o.text for o in out] == ["main:de:a b c"]  # commits stay on the main model
    clock.t = 4.0
    await run(stage, [commit("d", 3.5)])
    assert not stage.degraded and main.requests[-1].source == "d"
