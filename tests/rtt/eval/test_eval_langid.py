"""rtt eval measures language ID in the settings that leave the language to auto."""

import dataclasses

import pytest

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


# --- an item that switches language (talk-question-en-de) --------------------------------------


def said(item, index: int, lang: str, text: str | None = None, delay: float = 1.0):
    """A commit of utterance `index`'s words (its reference text unless `text`), in `lang`."""
    utt = item.utterances[index]
    words = (text or utt.text).split()
    step = (utt.end - utt.start) / len(words)
    timed = tuple(
        Word(w, round(utt.start + i * step, 2), round(utt.start + (i + 1) * step, 2))
        for i, w in enumerate(words)
    )
    return SourceCommit(
        stream="s",
        utterance=index + 1,
        lang=lang,
        language_probability=0.99,
        text=" ".join(words),
        words=timed,
        start=timed[0].start,
        end=timed[-1].end,
        emitted=round(utt.end + delay, 2),
    )


def test_a_switching_item_is_given_its_languages_as_candidates_when_pinned():
    item = corpus_item("talk-question-en-de")
    pinned = item_config(PipelineConfig(), item, aware=False)
    assert pinned.asr.language is None and pinned.asr.candidates == ("en", "de")
    assert set(pinned.mt.targets) == {"de", "en"}


def test_each_part_is_scored_in_its_own_language_and_followed():
    from rtt.eval.scoring import score_item, word_ends_from_utterances

    item = corpus_item("talk-question-en-de")
    german = [i for i, u in enumerate(item.utterances) if u.lang == "de"]
    events = [
        said(item, i, u.lang, "Feelin thank you for the effort back" if i == german[0] else None)
        for i, u in enumerate(item.utterances)
    ]
    events[german[0]] = dataclasses.replace(events[german[0]], lang="en")  # missed the switch
    score = score_item(item, events, word_ends_from_utterances(item), ())
    assert score["lang"] == "en+de"
    errors_de, words_de = score["parts"]["de"]
    assert (
        score["parts"]["en"][0] == 0
        and errors_de >= len(item.utterances[german[0]].text.split()) - 1
    )
    assert words_de == sum(len(item.utterances[i].text.split()) for i in german)
    parts = score["language_id"]["parts"]
    assert [p["lang"] for p in parts] == ["en", "de", "en"]
    assert parts[1]["commits_in_lang"] == 0.5  # the first question missed, the second followed
    follow = item.utterances[german[1]].end + 1.0 - item.utterances[german[0]].start
    assert parts[1]["follow_s"] == pytest.approx(follow, abs=0.02)
    answer = item.utterances[german[1] + 1]
    assert parts[2]["commits_in_lang"] == 1.0
    assert parts[2]["follow_s"] == pytest.approx(answer.end + 1.0 - answer.start, abs=0.02)
