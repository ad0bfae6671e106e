"""The language-ID rule against recorded whisper-base probabilities (no model run).

tests/fixtures/langid_curves.json holds, per corpus item, what the stream's detection
(30 s-padded window of the VAD's speech so far) said after each amount of speech,
recorded by scripts/langid_curve.py. At real-time pace the detections run whenever the
machine gets to them, so the rule must never decide a wrong language at any cadence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.asr.language import LanguageID
from pipeline.languages import LANGUAGES

CURVES = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "langid_curves.json").read_text()
)
ITEMS = CURVES["items"]
SETS = {"auto": tuple(LANGUAGES), "auto:en,de,es,fr": ("en", "de", "es", "fr")}


def decide(windows, candidates, start: float, every: float):
    """Feed the core the recorded window at or below each detection point (the first at
    `start` s of speech, then every `every` s); (language, speech) of its decision, or None
    within the recorded speech."""
    lid = LanguageID(candidates)
    speech = start
    while speech <= windows[-1][0] + 1e-6:
        speech_w, _, probs = max((w for w in windows if w[0] <= speech + 1e-6), key=lambda w: w[0])
        if lid.observe(list(probs.items()), speech_w):
            return lid.language, speech_w
        speech += every
    return None


def judged(item: str, name: str) -> bool:
    """Plain auto is held to items of 10 s or more (the target), candidates to every item."""
    return name != "auto" or ITEMS[item]["duration"] >= 10


@settings(max_examples=60, deadline=None)
@given(start=st.floats(0.5, 3.0), every=st.floats(0.6, 3.0))
def test_no_cadence_decides_a_wrong_language(start, every):
    wrong = {}
    for item, data in ITEMS.items():
        for name, candidates in SETS.items():
            found = decide(data["windows"], candidates, start, every)
            if judged(item, name) and found and found[0] != data["lang"]:
                wrong[(item, name)] = found
    assert not wrong


@pytest.mark.parametrize("name", list(SETS))
def test_no_single_window_passes_the_bar_for_a_wrong_language(name):
    """Stronger than any cadence: every recorded window alone."""
    policy = LanguageID().policy
    for item, data in ITEMS.items():
        for speech, _, probs in data["windows"]:
            lid = LanguageID(SETS[name])
            if judged(item, name) and lid.observe(list(probs.items()), speech):
                assert lid.language == data["lang"], (item, speech, policy.bar(speech))


def test_english_and_the_natural_voices_decide_within_2_5_s_of_speech():
    """The price of the bar stays small where the voice is natural (the simulated cadence)."""
    quick = ["talk-opening-en", "talk-lecture-de", "talk-tour-es"]
    for item in quick:
        for name, candidates in SETS.items():
            found = decide(ITEMS[item]["windows"], candidates, 0.5, 1.0)
            assert found and found[0] == ITEMS[item]["lang"] and found[1] <= 2.5, (item, name)


SWITCH = CURVES["switch"]


def redetect(lid: LanguageID, key: str, first: float, speech: float, doubt: str = "") -> float:
    """An utterance whose streaming passes doubt the language (their short windows say `doubt`,
    by default the utterance's language): unless the core is in a quiet period, re-detections
    on its first `first` seconds, then every `recheck_growth`, at most `max_rechecks` (as the
    stage runs them). Returns the speech seconds at its end."""
    windows = SWITCH[key]["windows"]
    lid.turn(speech)
    hint = [(doubt or SWITCH[key]["lang"], 1.0)]
    for _ in range(lid.policy.evidence_passes):
        lid.evidence(hint, words=3, audio=1.0, speech=speech + 1.0)
    at = first
    while lid.hold and at <= windows[-1][0] + 1e-6:
        _, _, probs = max((w for w in windows if w[0] <= at + 1e-6), key=lambda w: w[0])
        lid.observe(list(probs.items()), speech + at, final=at >= windows[-1][0])
        at += lid.policy.recheck_growth
    return speech + windows[-1][0]


@pytest.mark.parametrize("name", list(SETS))
@pytest.mark.parametrize("first", [2.5, 3.0, 3.5])
def test_the_german_question_is_followed_and_the_answer_switches_back(name, first):
    """talk-question-en-de: its first German utterance reads German at 0.63-0.81 among all
    languages early on and English later (espeak); the suspicion it leaves makes the second,
    German at 0.98, switch; the English answer switches back."""
    lid = LanguageID(SETS[name])
    lid.observe([("en", 0.99), ("de", 0.01)], 1.0)
    speech = redetect(lid, "talk-question-en-de#6", first, 30.0)
    speech = redetect(lid, "talk-question-en-de#7", first, speech)
    assert lid.language == "de"
    redetect(lid, "talk-question-en-de#8", first, speech)
    assert lid.language == "en" and lid.switches == 2


@pytest.mark.parametrize("key", [k for k in SWITCH if SWITCH[k]["lang"] == "en"])
def test_english_utterances_leave_no_suspicion(key):
    lid = LanguageID()
    lid.observe([("en", 0.99), ("de", 0.01)], 1.0)
    redetect(lid, key, 2.5, 30.0, doubt="de")  # the worst case: the passes doubt English
    assert lid.language == "en" and lid.settled
