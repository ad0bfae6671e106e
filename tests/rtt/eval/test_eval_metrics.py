"""Metric functions of `rtt eval` against hand-worked examples (no models)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.events import (
    SourceCommit,
    SourcePartial,
    TargetAppend,
    TargetCommit,
    TargetPartial,
    Word,
)
from rtt.corpus import CorpusItem, Utterance
from rtt.eval.metrics import (
    average_lagging,
    bleu,
    chrf,
    length_adaptive_average_lagging,
    match_words,
    normalized_erasure,
    word_error_rate,
    word_errors,
)
from rtt.eval.report import pareto
from rtt.eval.scoring import (
    display_tokens,
    score_item,
    source_erasure,
    utterance_of,
    word_ends_from_utterances,
)


def test_al_on_a_small_delay_vector() -> None:
    # |X| = 4 s, |Y| = 4 words: one ideal word per second. Lags 1, 1, 1, 1; the 4th word
    # (delay 4 >= |X|) is the first emitted after the whole source: tau = 4.
    assert average_lagging([1.0, 2.0, 3.0, 4.0, 5.0], 4.0, 4) == pytest.approx(1.0)


def test_al_stops_at_the_first_word_after_the_source() -> None:
    # tau = 2: (2 - 0) + (5 - 2) = 5, over 2 words.
    assert average_lagging([2.0, 5.0, 9.0], 4.0, 2) == pytest.approx(2.5)


def test_al_is_the_first_delay_when_nothing_comes_before_the_source_ends() -> None:
    assert average_lagging([6.0, 6.0, 6.0], 4.0, 3) == pytest.approx(6.0)


def test_laal_does_not_reward_an_over_long_hypothesis() -> None:
    delays = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]  # 6 words for a 3-word reference, |X| = 3 s
    # AL: rate 1 s/word: 1 + 0 + 0 - 1 - 1 = -1 over tau = 5 -> -0.2 (over-generation looks early)
    assert average_lagging(delays, 3.0, 3) == pytest.approx(-0.2)
    # LAAL: |Y| = max(3, 6) = 6, rate 0.5 s/word: 1 + 0.5 + 1 + 0.5 + 1 = 4 over 5 -> 0.8
    assert length_adaptive_average_lagging(delays, 3.0, 3) == pytest.approx(0.8)


def test_lagging_without_output_is_none() -> None:
    assert average_lagging([], 3.0, 3) is None
    assert length_adaptive_average_lagging([1.0], 0.0, 3) is None


def test_normalized_erasure_on_a_scripted_revision_sequence() -> None:
    displays = [["a", "b", "c"], ["a", "b", "d", "e"], ["a", "x"], ["a", "x", "y", "z"]]
    # c erased (1), then b d e erased (3), then append only: 4 erased, final text 4 words.
    assert normalized_erasure(displays) == (4, 4)
    assert normalized_erasure([["a"], ["a", "b"], ["a", "b", "c"]]) == (0, 3)  # append-only


def test_wer_normalises_case_punctuation_and_numbers() -> None:
    assert word_errors(
        "The keynote starts at nine, in the Main Hall!",
        "the keynote starts at 9 in the main hall",
        "en",
    ) == (0, 9)
    assert word_errors("Guten Morgen, zusammen!", "guten morgen zusammen", "de") == (0, 3)
    assert word_errors("the cat sat down", "the bat sat", "en") == (2, 4)
    assert word_error_rate(
        ["the cat sat down", "good night"], ["the bat sat", "good night"], "en"
    ) == pytest.approx(2 / 6, abs=1e-4)
    assert word_error_rate([""], ["x"], "en") is None


def test_bleu_and_chrf_are_document_level() -> None:
    text = "Das ist ein kleiner Test. Er hat zwei Sätze."
    assert bleu(text, text, "de") == pytest.approx(100.0)
    assert chrf(text, text) == pytest.approx(100.0)
    assert chrf(text, "Etwas ganz anderes.") < 30


def test_match_words_pairs_equal_and_substituted_words() -> None:
    assert match_words(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]) == [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
    ]
    assert match_words(["a", "b"], ["z"]) == []


def test_pareto_keeps_points_nobody_beats() -> None:
    assert pareto([(1.0, 50.0), (2.0, 60.0), (2.0, 55.0), (3.0, 40.0)]) == [
        True,
        True,
        False,
        False,
    ]


def _item() -> CorpusItem:
    utts = (
        Utterance(1.0, 3.0, "Good morning everyone.", {"de": "Guten Morgen zusammen."}),
        Utterance(4.0, 6.0, "Welcome to Lisbon.", {"de": "Willkommen in Lissabon."}),
    )
    return CorpusItem(
        id="t",
        audio=Path("/nonexistent.flac"),
        lang="en",
        duration=7.0,
        style="short",
        transcript="Good morning everyone. Welcome to Lisbon.",
        translations={"de": "Guten Morgen zusammen. Willkommen in Lissabon."},
        utterances=utts,
        provenance={},
        licence={},
    )


def _commit(u: int, t: float, text: str, words: list[tuple[str, float]]) -> SourceCommit:
    ws = tuple(Word(w, end - 0.2, end) for w, end in words)
    return SourceCommit(
        stream="t",
        utterance=u,
        emitted=t,
        lang="en",
        text=text,
        words=ws,
        start=ws[0].start,
        end=ws[-1].end,
    )


def _events():
    return [
        SourcePartial(stream="t", utterance=1, emitted=2.0, lang="en", text="Good morning."),
        _commit(1, 2.6, "Good morning", [("Good", 1.4), ("morning", 2.0)]),
        SourcePartial(stream="t", utterance=1, emitted=2.6, lang="en", text="every one."),
        _commit(1, 3.5, "everyone.", [("everyone.", 2.9)]),
        SourcePartial(stream="t", utterance=1, emitted=3.5, lang="en", text=""),
        TargetPartial(
            stream="t", utterance=1, emitted=2.5, lang="de", sentence=0, text="Guten Morgen"
        ),
        TargetCommit(
            stream="t",
            utterance=1,
            emitted=4.0,
            lang="de",
            sentence=0,
            text="Guten Morgen zusammen.",
            start=1.0,
            end=2.9,
        ),
        _commit(2, 6.5, "Welcome to Lisbon.", [("Welcome", 4.5), ("to", 4.8), ("Lisbon.", 5.9)]),
        TargetPartial(
            stream="t", utterance=2, emitted=6.6, lang="de", sentence=1, text="Willkommen nach"
        ),
        TargetCommit(
            stream="t",
            utterance=2,
            emitted=7.0,
            lang="de",
            sentence=1,
            text="Willkommen in Lissabon.",
            start=4.3,
            end=5.9,
        ),
    ]


def test_source_display_counts_what_a_reader_saw_taken_back() -> None:
    # "Good morning." -> commit "Good morning" + partial "every one." (same pass: one display)
    # -> commit "everyone.": "every one" (2 words) erased; final 3 words.
    assert source_erasure(_events()) == (2, 3 + 3)
    # A partial never committed was shown and then taken back at the end.
    tail = SourcePartial(stream="t", utterance=2, emitted=6.8, lang="en", text="And now")
    assert source_erasure(_events() + [tail]) == (4, 6)
    assert display_tokens("Hallo, Welt. – gut!") == ["Hallo", "Welt", "gut"]


def test_score_item_on_scripted_events() -> None:
    item = _item()
    ends = [1.4, 2.0, 2.9, 4.5, 4.8, 5.9]
    score = score_item(item, _events(), ends, ["de"])
    assert score["wer"] == pytest.approx(0.0)
    assert score["values"]["commit_latency"] == pytest.approx([1.2, 0.6, 0.6, 2.0, 1.7, 0.6])
    de = score["targets"]["de"]
    assert de["hypothesis"] == "Guten Morgen zusammen. Willkommen in Lissabon."
    assert de["bleu"] == pytest.approx(100.0)
    values = de["values"]
    # utterance 1 (|X| = 2 s): every word at 4.0 - 1.0 = 3.0 > |X| -> AL = 3.0; TTF = 4.0 - 3.0
    # utterance 2 (|X| = 2 s): every word at 7.0 - 4.0 = 3.0 -> AL = 3.0; TTF = 7.0 - 6.0
    assert values["al"] == [3.0, 3.0] and values["laal"] == [3.0, 3.0]
    assert values["time_to_final"] == [1.0, 1.0]
    assert values["start_offset"] == [3.0, 3.0] and values["end_offset"] == [1.0, 1.0]
    # first appearance: "Guten Morgen" shown at 2.5 (1.5 s after the start) and kept; "zusammen"
    # only at the commit (3.0 >= |X|: tau = 3); rate |X|/|Y| = 2/3: (1.5 + (1.5 - 2/3) + (3 - 4/3)) / 3
    assert values["laal_first_appearance"][0] == pytest.approx(4 / 3, abs=1e-3)
    # "Willkommen nach" -> "Willkommen in Lissabon": one word erased over 6 final words.
    assert (de["erased"], de["final_tokens"], de["revisions"]) == (1, 6, 2)


def test_target_words_belong_to_the_utterance_their_source_span_ends_in() -> None:
    utts = _item().utterances
    assert [utterance_of(utts, t) for t in (0.5, 1.0, 3.5, 4.0, 9.0)] == [0, 0, 0, 1, 1]


def test_word_ends_from_utterances_end_at_each_utterance_end() -> None:
    ends = word_ends_from_utterances(_item())
    assert len(ends) == 6 and ends[2] == pytest.approx(3.0) and ends[5] == pytest.approx(6.0)
    assert ends == sorted(ends)


def test_laal_counts_appended_target_words_at_their_append_time() -> None:
    item = _item()
    ends = [1.4, 2.0, 2.9, 4.5, 4.8, 5.9]
    events = _events()
    append = TargetAppend(
        stream="t", utterance=1, emitted=2.5, lang="de", sentence=0, text="Guten Morgen", offset=0
    )
    repeat = dataclasses.replace(append, emitted=3.5)  # a replay of it: not a new commit
    events[5:6] = [append, events[5], repeat]  # before the partial of the same pass
    values = score_item(item, events, ends, ["de"])["targets"]["de"]["values"]
    # utterance 1 (|X| = 2 s, rate 2/3): "Guten Morgen" committed at 2.5 (1.5 s after the start),
    # "zusammen" at 4.0 (3.0 >= |X|: tau = 3): (1.5 + (1.5 - 2/3) + (3 - 4/3)) / 3
    assert values["laal"][0] == pytest.approx(4 / 3, abs=1e-3)
    assert values["laal"][1] == 3.0  # utterance 2: nothing appended, every word at its commit
    assert values["start_offset"] == [1.5, 3.0]
    assert values["time_to_final"] == [1.0, 1.0]  # time to final stays on target_commit
    # nothing of what was appended is erased: the displays only ever extend it
    score = score_item(item, events, ends, ["de"])["targets"]["de"]
    assert (score["erased"], score["final_tokens"]) == (1, 6)
