"""Near misses of glossary terms are written as the terms (pipeline/asr/respell.py)."""

from hypothesis import given
from hypothesis import strategies as st

from pipeline.asr.respell import respell, spelled_as
from pipeline.events import Word
from pipeline.words import join_words

TERMS = [
    "Dashwood",
    "Halvorsen",
    "Nordlicht Energy",
    "feed-in tariff",
    "load shifting",
    "heat pump",
]


def heard(text):
    return [Word(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(text.split())]


def written(text, terms=TERMS):
    return join_words(respell(heard(text), terms))


def test_the_misses_measured_on_talk_energy_en_are_written_as_the_terms():
    text = "My colleague Ingrid Havorsen negotiated a new feeding tariff with the grid operator."
    assert written(text) == (
        "My colleague Ingrid Halvorsen negotiated a new feed-in tariff with the grid operator."
    )
    assert written("the Nordlec Tenergy board") == "the Nordlicht Energy board"
    assert written("Ingrid Haverson, my colleague") == "Ingrid Halvorsen, my colleague"
    assert written("Ask Havorsen's team, Havorsen.") == "Ask Halvorsen's team, Halvorsen."


def test_ordinary_speech_and_terms_already_right_are_left_as_heard():
    for text in [
        "We use load lifting with heat pumps on the dashboard.",  # 0.87, 0.71: not near enough
        "Our heat pumps and Halvorsen's feed-in tariffs.",  # the terms, inflected
        "Feeding. Tariffs rose.",  # not across a sentence end
        "a road shifting plan",  # another first letter
        "Ingrid haverson and two persons",  # a name's vowels only when heard as a name
        "He maintained a build tool.",  # another form of a word, not a near miss of "maintainer"
    ]:
        assert written(text) == text


def test_a_name_heard_as_an_ordinary_word_is_left_alone():
    assert written("Many persons came.", ["Parsons"]) == "Many persons came."
    assert written("Ask Persons.", ["Parsons"]) == "Ask Parsons."


def test_short_terms_are_never_respelled():
    assert not spelled_as("Lee", "Leo")
    assert written("ask Lee", ["Leo"]) == "ask Lee"


def test_the_term_takes_the_span_of_the_words_it_replaces():
    words = respell(heard("a new feeding tariff now"), TERMS)
    assert [w.word for w in words] == ["a", "new", "feed-in", "tariff", "now"]
    assert (words[2].start, words[3].end) == (1.0, 1.9)
    one = respell(heard("Hal Vorsen spoke"), TERMS)
    assert [(w.word, w.start, w.end) for w in one] == [("Halvorsen", 0.0, 0.9), ("spoke", 1.0, 1.4)]


@given(st.lists(st.sampled_from(["the", "grid", "Havorsen", "feeding", "tariff.", "pump", "x"])))
def test_respelling_keeps_time_order_touches_only_near_misses_and_is_idempotent(words):
    before = heard(" ".join(words))
    out = respell(before, TERMS)
    assert all(a.end <= b.start for a, b in zip(out, out[1:], strict=False))
    pieces = {p for t in TERMS for p in t.split()} | {"tariff."}
    assert all(w in before or w.word in pieces for w in out)  # heard as is, or a term's word
    assert respell(out, TERMS) == out
