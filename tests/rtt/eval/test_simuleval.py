"""The SimulEval export: hypothesis log, speech segmentation and references (no models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.events import End, TargetAppend, TargetCommit, TargetPartial, to_json
from rtt.corpus import CorpusItem, Utterance, load_corpus
from rtt.eval.scoring import word_ends_from_utterances
from rtt.eval.simuleval import (
    committed_words,
    export_run,
    hypothesis_line,
    item_segments,
    split_sentences,
)


def _item(utterances: list[Utterance], audio: str = "talk.flac", duration: float = 9.0):
    return CorpusItem(
        id="talk",
        audio=Path("/corpus") / audio,
        lang="en",
        duration=duration,
        style="talk",
        transcript=" ".join(u.text for u in utterances),
        translations={"de": " ".join(u.translations["de"] for u in utterances)},
        utterances=tuple(utterances),
        provenance={},
        licence={},
    )


TWO = Utterance(
    1.0, 5.0, "Good morning. Welcome home.", {"de": "Guten Morgen. Willkommen zu Hause."}
)
ONE = Utterance(6.0, 8.0, "Thank you.", {"de": "Danke."})


def _commit(text: str, emitted: float, sentence: int = 0, lang: str = "de") -> TargetCommit:
    return TargetCommit(
        stream="s",
        utterance=0,
        emitted=emitted,
        lang=lang,
        sentence=sentence,
        text=text,
        start=0,
        end=1,
    )


def test_sentences_get_spans_from_word_ends() -> None:
    item = _item([TWO, ONE])
    ends = [1.5, 2.0, 3.6, 4.9, 7.0, 8.0]  # good morning | welcome home | thank you
    segments = item_segments(item, ends, "de")
    assert [(s.offset, s.duration) for s in segments] == [(1.0, 1.0), (2.0, 3.0), (6.0, 2.0)]
    assert [s.reference for s in segments] == ["Guten Morgen.", "Willkommen zu Hause.", "Danke."]
    assert [s.source for s in segments] == ["Good morning.", "Welcome home.", "Thank you."]
    assert {s.split for s in segments} == {"sentence"} and {s.wav for s in segments} == {
        "talk.flac"
    }


def test_an_utterance_whose_sentences_do_not_pair_up_is_one_segment() -> None:
    odd = Utterance(1.0, 5.0, "Good morning. Welcome home.", {"de": "Guten Morgen, willkommen."})
    (segment,) = item_segments(_item([odd]), [1.5, 2.0, 3.6, 4.9], "de")
    assert (segment.offset, segment.duration, segment.split) == (1.0, 4.0, "utterance")
    assert segment.reference == "Guten Morgen, willkommen."


def test_every_corpus_sentence_pairs_up() -> None:
    """The shipped references split into as many sentences as their source, utterance by utterance."""
    for item in load_corpus():
        for lang in item.translations:
            segments = item_segments(item, word_ends_from_utterances(item), lang)
            assert all(s.split == "sentence" for s in segments), (item.id, lang)
            assert all(s.duration > 0 for s in segments), (item.id, lang)
            assert " ".join(s.reference for s in segments) == item.translations[lang]


def test_split_sentences_keeps_abbreviations() -> None:
    assert split_sentences("Dr. Weber spricht. Um 9 Uhr.", "de") == [
        "Dr. Weber spricht.",
        "Um 9 Uhr.",
    ]


def test_the_log_holds_every_committed_word_with_its_commit_time() -> None:
    events = [
        TargetPartial(stream="s", utterance=0, emitted=0.5, lang="de", sentence=0, text="Guten"),
        _commit("Guten Morgen.", 1.25),
        _commit("Good morning.", 1.25, lang="es"),
        _commit("Willkommen zu Hause.", 2.5, sentence=1),
        End(stream="s", emitted=3.0),
    ]
    item = _item([TWO])
    line = hypothesis_line(item, events, "de", "unaware")
    assert line == {
        "source": "talk.flac",
        "prediction": "Guten Morgen. Willkommen zu Hause.",
        "delays": [1250.0, 1250.0, 2500.0, 2500.0, 2500.0],
        "source_length": 9000.0,
    }
    assert list(hypothesis_line(item, events, "de", "aware"))[2] == "elapsed"
    assert committed_words(events, "es") == [("Good", 1.25), ("morning.", 1.25)]


def test_an_appended_word_counts_at_its_append_time() -> None:
    def append(text, emitted, offset):
        return TargetAppend(
            stream="s",
            utterance=0,
            emitted=emitted,
            lang="de",
            sentence=0,
            text=text,
            offset=offset,
        )

    events = [
        append("Guten", 0.5, 0),
        append("Guten", 0.9, 0),  # a replay: not a new commit
        append("Morgen", 1.0, 1),
        _commit("Guten Morgen allerseits.", 1.25),
    ]
    assert committed_words(events, "de") == [
        ("Guten", 0.5),
        ("Morgen", 1.0),
        ("allerseits.", 1.25),
    ]


def test_export_round_trips_to_the_events(tmp_path: Path) -> None:
    """Read back, each word's delay is the emission time of the target_commit it came from."""
    item = _item([TWO, ONE])
    commits = [_commit("Guten Morgen.", 1.7), _commit("Willkommen zu Hause.", 5.4, 1)]
    commits.append(_commit("Danke.", 8.35, 2))
    run = {
        "mode": "aware",
        "items": {"talk": {"lang": "en", "targets": {"de": {}}}},
        "events": {"talk": [to_json(e) for e in commits] + [{"type": "future_event"}]},
    }
    info = export_run(run, {"talk": item}, {"talk": word_ends_from_utterances(item)}, tmp_path)
    assert set(info) == {"en-de"} and info["en-de"]["segments"] == 3
    folder = tmp_path / "en-de"
    (line,) = [json.loads(x) for x in (folder / "instances.log").read_text().splitlines()]
    words = line["prediction"].split()
    assert len(words) == len(line["elapsed"]) == 6
    expected = [(w, e.emitted * 1000) for e in commits for w in e.text.split()]
    assert list(zip(words, line["elapsed"])) == pytest.approx(expected)
    assert (folder / "references.txt").read_text().splitlines() == [
        "Guten Morgen.",
        "Willkommen zu Hause.",
        "Danke.",
    ]
    yaml = (folder / "segments.yaml").read_text().splitlines()
    assert yaml[0] == '- {wav: "talk.flac", offset: 1.000, duration: 2.000}'
    assert len(yaml) == 3 and (folder / "sources.txt").read_text().count("\n") == 3
