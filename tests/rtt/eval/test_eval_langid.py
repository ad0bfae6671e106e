"""rtt eval measures language ID in the settings that leave the language to auto."""

from pipeline.config import PipelineConfig
from pipeline.events import SourceCommit, SourcePartial, SpeechStart, Word
from rtt.corpus import corpus_item
from rtt.eval.harness import item_config
from rtt.eval.langid import language_id, language_summary, leaves_language_auto
from rtt.eval.sweep import DEFAULT_SWEEP, load_sweep


def commit(lang, p, t):
    return SourceCommit(
        stream="s",
        utterance=1,
        lang=lang,
        language_probability=p,
        text="x",
        words=(Word("x", t - 1, t),),
        start=t - 1,
        end=t,
        emitted=t,
    )


def test_the_default_sweep_has_auto_settings_and_the_harness_leaves_them_unpinned():
    settings = {s.name: s for s in load_sweep(DEFAULT_SWEEP).settings}
    auto, candidates = settings["auto"], settings["auto-candidates"]
    assert leaves_language_auto(auto.overrides) and leaves_language_auto(candidates.overrides)
    assert not leaves_language_auto(settings["default"].overrides)
    assert candidates.config.asr.candidates == ("en", "de", "es", "fr")
    item = corpus_item("talk-lecture-de")
    pinned = item_config(PipelineConfig(), item, aware=False)
    assert pinned.asr.language == "de"  # pinned by default, as before
    left = item_config(candidates.config, item, aware=False, auto_language=True)
    assert left.asr.language is None and left.asr.candidates == ("en", "de", "es", "fr")


def test_language_id_figures_per_item_and_summary():
    item = corpus_item("talk-lecture-de")  # speech starts at its first utterance's start
    t0 = item.utterances[0].start
    events = [
        SpeechStart(stream="s", utterance=1, start=t0),
        SourcePartial(stream="s", utterance=1, lang="und", text="Gu", emitted=t0 + 0.6),
        SourcePartial(stream="s", utterance=1, lang="de", text="Guten", emitted=t0 + 1.6),
        commit("de", 0.93, t0 + 2.2),
        commit("en", 0.9, t0 + 5.0),
    ]
    lid = language_id(item, events)
    assert lid == {
        "detected": "de",
        "probability": 0.93,
        "correct": True,
        "decide_s": 1.6,
        "first_commit_s": 2.2,
        "commits_in_lang": 0.5,
    }
    pinned = language_id(item, [commit("de", None, 2.0)])
    assert pinned == {"detected": None}
    wrong = dict(lid, correct=False, decide_s=3.0)
    scores = {"a": {"language_id": lid}, "b": {"language_id": wrong}, "c": {"language_id": pinned}}
    assert language_summary(scores) == {"lid_accuracy": 0.5, "lid_decide_p50": 2.3}
    assert language_summary({"c": {"language_id": pinned}}) == {}
