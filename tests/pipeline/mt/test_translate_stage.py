"""The translation stage's scheduling, with a fake engine (the model is not the point here)."""

from pipeline.config import MTConfig
from pipeline.events import AddTarget, End, SetTargets, SpeechEnd, TargetCommit, TargetPartial
from pipeline.mt.stage import TranslateStage
from tests.support import FakeClock, FakeEngine, commit


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
    stage = make(
        main, clock, fast, targets=("de",), fallback_lag=2.0, recover_lag=1.0, budget="off"
    )
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


async def test_a_language_added_mid_utterance_gets_the_whole_utterance():
    engine = FakeEngine()
    stage = make(engine, targets=("de",))
    out = await run(stage, [commit("Good morning.", 0), commit("Dear", 1)])
    out += await run(stage, [AddTarget(stream="s", lang="es"), commit("friends.", 2)])
    out += await run(stage, [SpeechEnd(stream="s", utterance=1, end=3), End(stream="s")])
    finals = [(o.lang, o.sentence, o.text) for o in out if isinstance(o, TargetCommit)]
    assert ("es", 0, "main:es:Good morning.") in finals  # completed before es was added
    assert ("es", 1, "main:es:Dear friends.") in finals  # whole, though es joined mid-sentence
    assert sorted(f for f in finals if f[0] == "de") == [
        ("de", 0, "main:de:Good morning."),
        ("de", 1, "main:de:Dear friends."),
    ]


async def test_set_targets_takes_effect_in_band_and_is_not_forwarded():
    engine = FakeEngine()
    stage = make(engine, targets=("de",), partials=False)
    forwarded = [o async for o in stage.process(SetTargets(stream="s", targets=("fr",)))]
    assert forwarded == []
    out = await run(stage, [commit("Hello.", 0), SpeechEnd(stream="s", utterance=1, end=1)])
    assert [o.lang for o in out if isinstance(o, TargetCommit)] == ["fr"]
    assert stage.report().translator.targets == ("fr",)


async def test_partials_are_served_round_robin_over_languages():
    engine = FakeEngine()
    stage = make(engine, targets=("de", "es", "fr"))
    served = []
    for i, word in enumerate(["a", "b", "c", "d", "e", "f"]):
        async for _ in stage.process(commit(word, i)):
            pass
        async for o in stage.work():  # one translation per new word: the translator is behind
            if isinstance(o, TargetPartial):
                served.append(o.lang)
    assert served == ["de", "es", "fr", "de", "es", "fr"]


async def test_the_source_language_follows_each_commit():
    engine = FakeEngine()
    stage = make(engine, targets=("de", "en"), partials=False)
    events = [
        commit("Good morning", 0),
        commit("Guten Tag.", 1, lang="de"),
        SpeechEnd(stream="s", utterance=1, end=3),
    ]
    out = await run(stage, events)
    finals = [(o.lang, o.sentence, o.text) for o in out if isinstance(o, TargetCommit)]
    assert finals == [
        ("de", 0, "main:de:Good morning"),  # closed by the change of language
        ("en", 0, "Good morning"),  # the language spoken: the source as it is
        ("de", 1, "Guten Tag."),
        ("en", 1, "main:en:Guten Tag."),
    ]
    assert [(r.source_lang, r.target_lang) for r in engine.requests] == [("en", "de"), ("de", "en")]
    assert stage.report().translator.source_lang == "de"


async def test_a_target_the_fit_gave_to_the_fast_model_gets_its_finals_there():
    main, fast = FakeEngine("main"), FakeEngine("fast")
    stage = make(main, None, fast, targets=("de", "es"), fast_targets=("es",), partials=False)
    out = await run(stage, [commit("Hello world.", 0), End(stream="s")])
    texts = sorted(o.text for o in out if isinstance(o, TargetCommit))
    assert texts == ["fast:es:Hello world.", "main:de:Hello world."]
