"""The readable view says which language was detected, warns when unsure, skips unknown events."""

import io

from pipeline.events import SourceCommit, SourcePartial, Word
from rtt.render import JsonlView, TextView


def commit(lang, probability, text="Guten Abend."):
    return SourceCommit(
        stream="s",
        utterance=1,
        lang=lang,
        language_probability=probability,
        text=text,
        words=(Word(text, 0.0, 1.0),),
        start=0.0,
        end=1.0,
        emitted=1.5,
    )


def test_detected_language_is_said_once_and_on_a_switch():
    out = io.StringIO()
    view = TextView(out, live=False, width=200)
    view.show(commit("de", 0.97))
    view.show(commit("de", 0.97, "Wie geht's?"))
    view.show(commit("en", 0.62, "Fine, thanks."))
    text = out.getvalue()
    assert text.count("source language: de, probability 97%") == 1
    assert "source language: en (was de), probability 62% (unsure: pass --from" in text
    assert "Wie geht's?" in text


def test_a_given_language_says_nothing_extra():
    out = io.StringIO()
    TextView(out, live=False, width=200).show(commit("de", None))
    assert "source language" not in out.getvalue()


def test_undecided_partials_are_labelled():
    out = io.StringIO()
    view = TextView(out, live=True, width=200)
    view.show(SourcePartial(stream="s", utterance=1, lang="und", text="Guten"))
    assert "src (detecting the language…): Guten" in out.getvalue()


def test_unknown_events_are_skipped():
    out = io.StringIO()
    TextView(out, live=False).show(None)
    JsonlView(out).show(None)
    assert out.getvalue() == ""


def test_appended_words_show_as_committed_before_the_tentative_rest():
    from pipeline.events import TargetAppend, TargetPartial

    out = io.StringIO()
    view = TextView(out, live=True, width=200)
    common = dict(stream="s", utterance=1, lang="de", sentence=0)
    view.show(TargetAppend(**common, text="Guten Morgen", offset=0))
    view.show(TargetAppend(**common, text="Guten Morgen", offset=0))  # a replay: skipped
    view.show(TargetPartial(**common, text="Guten Morgen liebe Gäste"))
    # committed words in full brightness, the tentative rest dim
    assert out.getvalue().endswith("\x1b[2mde: \x1b[0mGuten Morgen \x1b[2mliebe Gäste\x1b[0m")
