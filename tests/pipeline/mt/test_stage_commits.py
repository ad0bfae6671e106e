"""The translation stage commits target words incrementally (a scripted fake engine)."""

from pipeline.config import MTConfig
from pipeline.events import SpeechEnd, TargetAppend, TargetCommit, TargetPartial
from pipeline.mt.stage import TranslateStage
from tests.support import FakeClock, FakeEngine, commit


async def run(engine, words, **config):
    stage = TranslateStage(engine, MTConfig(targets=("de",), **config), clock=FakeClock())
    out = []
    events = [commit(w, i) for i, w in enumerate(words)]
    for e in [*events, SpeechEnd(stream="s", utterance=1, end=len(words))]:
        async for o in stage.process(e):
            out.append(o)
        while stage.pending():
            async for o in stage.work():
                out.append(o)
    return [o for o in out if isinstance(o, (TargetAppend, TargetPartial, TargetCommit))]


SCRIPT = [  # a partial per source word, then the final
    "Ich",
    "Ich habe",
    "Ich habe den",
    "Ich habe den Mann",
    "Ich habe den Mann gestern",
    "Ich habe den Mann gestern gesehen.",  # the final
]
SOURCE = ["I", "have", "seen", "the", "man"]


async def test_appends_come_in_order_and_the_final_begins_with_them():
    engine = FakeEngine(script=list(SCRIPT))
    out = await run(engine, SOURCE, commit="agreement", commit_lag=1, speculative="off")
    appends = [o for o in out if isinstance(o, TargetAppend)]
    assert [(a.text, a.offset) for a in appends] == [("Ich", 0), ("habe", 1), ("den", 2)]
    final = [o for o in out if isinstance(o, TargetCommit)]
    assert [f.text for f in final] == ["Ich habe den Mann gestern gesehen."]
    # each append comes right before the partial that shows it
    for a in appends:
        assert isinstance(out[out.index(a) + 1], TargetPartial)
    # every request after a commit carries the committed words as its forced prefix
    assert [r.prefix for r in engine.requests] == [
        None,
        None,
        None,
        "Ich",
        "Ich habe",
        "Ich habe den",
    ]
    assert engine.requests[-1].final


async def test_the_final_keeps_committed_words_the_model_would_change():
    script = [*SCRIPT[:5], "Gestern sah ich den Mann."]  # ignores its prefix at a word boundary
    engine = FakeEngine(script=script)
    out = await run(engine, SOURCE, commit="agreement", commit_lag=0, speculative="off")
    final = [o for o in out if isinstance(o, TargetCommit)][0]
    committed = " ".join(o.text for o in out if isinstance(o, TargetAppend))
    assert final.text.startswith(committed + " ")


async def test_sentence_mode_appends_nothing_and_sends_no_prefix():
    engine = FakeEngine(script=list(SCRIPT))
    out = await run(engine, SOURCE, commit="sentence", speculative="off")
    assert not any(isinstance(o, TargetAppend) for o in out)
    assert all(r.prefix is None for r in engine.requests)
    assert [o.text for o in out if isinstance(o, TargetCommit)] == [SCRIPT[-1]]


async def test_a_masked_partial_never_hides_committed_words():
    engine = FakeEngine(script=list(SCRIPT))
    out = await run(engine, SOURCE, commit="agreement", commit_lag=0, display_mask=3)
    shown = 0
    for o in out:
        if isinstance(o, TargetAppend):
            shown = o.offset + len(o.text.split())
        elif isinstance(o, TargetPartial):
            assert len(o.text.split()) >= shown
