"""Term accuracy, source term recall and German register figures; the glossary setting."""

from __future__ import annotations

import dataclasses

from pipeline.config import PipelineConfig
from pipeline.events import SourceCommit, TargetCommit, Word
from pipeline.glossary import glossary_from_entries, load_glossary
from rtt.corpus import corpus_item
from rtt.eval.sweep import parse_sweep
from rtt.eval.terms import register_counts, term_scores, term_summary, with_glossary

GLOSSARY = glossary_from_entries(
    [{"en": "heat pump", "de": "Wärmepumpe"}, {"en": "Dashwood"}, {"en": "grid", "de": "Netz"}]
)


def commit(text: str) -> SourceCommit:
    words = tuple(Word(w, 0.0, 0.1) for w in text.split())
    return SourceCommit(stream="s", utterance=1, lang="en", text=text, words=words, start=0, end=1)


def final(text: str, lang: str = "de") -> TargetCommit:
    return TargetCommit(
        stream="s", utterance=1, lang=lang, sentence=0, text=text, start=0.0, end=1.0
    )


def test_terms_are_counted_against_the_reference_capped_and_per_target():
    transcript = "Two heat pumps. Mr. Dashwood's heat pump."  # heat pump x2, Dashwood x1, grid x0
    events = [
        commit("Two heat pumps. Mr. Dashwood heat pump."),
        final("Zwei Wärmepumpen. Die Wärmepumpe von Herrn Dashwood. Eine Wärmepumpe."),
        final("Dos bombas. La bomba del señor Dashwud.", "es"),
    ]
    scores = term_scores(GLOSSARY, "en", transcript, events, ["de", "es"])
    assert scores["source_terms"] == {"hit": 3, "expected": 3, "rate": 1.0}
    assert scores["target_terms"]["de"] == {"hit": 3, "expected": 3, "rate": 1.0}  # capped at 2
    assert scores["target_terms"]["es"]["hit"] == 0  # no es column: kept as is, and misheard
    assert scores["missed_terms"]["es"] == ["heat pump", "Dashwood"]
    assert "target_terms" not in term_scores(None, "en", transcript, events, ["de"])


def test_register_counts_informal_sentences_and_capitalised_formal_ones():
    text = (
        "Wenn Sie Fragen haben, melden Sie sich. Du findest das Passwort. Sie ist hier. Danke dir!"
    )
    assert register_counts(text) == {"sentences": 4, "informal": 2, "formal": 1}


def test_summary_pools_items_with_a_glossary():
    terms = term_scores(GLOSSARY, "en", "a heat pump", [final("eine Pumpe. Du bist da.")], ["de"])
    summary = term_summary({"x": {"lang": "en", "terms": terms}, "y": {"lang": "en"}})
    assert summary == {
        "source_term_recall": 0.0,
        "target_term_accuracy": {"en-de": 0.0},
        "register_de": {"informal": 1, "formal": 0, "sentences": 2},
    }


def test_a_sweep_setting_takes_the_items_own_glossary():
    plan = parse_sweep({"setting": [{"name": "plain"}, {"name": "g", "glossary": "item"}]})
    plain, guided = plan.settings
    assert plain.glossary is None and guided.glossary == "item"
    assert guided.overrides == {"glossary": {"file": "item"}}  # as reports show overrides
    item = corpus_item("talk-energy-en")
    config = with_glossary(PipelineConfig(), guided.glossary, item)
    assert config.glossary == dataclasses.replace(load_glossary(item.glossary))
    assert len(config.glossary) == 10
    assert with_glossary(PipelineConfig(), None, item).glossary is None
