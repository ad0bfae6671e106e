"""The language-ID core: decide on evidence, follow a switch with hysteresis (no models)."""

import pytest

from pipeline.asr.language import UNDETERMINED, LanguageID, LanguagePolicy, restrict

DE = [("de", 0.9), ("en", 0.06), ("nl", 0.04)]
EN = [("en", 0.96), ("de", 0.03), ("nl", 0.01)]
UNSURE = [("bo", 0.4), ("de", 0.3), ("en", 0.2), ("nl", 0.1)]


def test_restrict_keeps_candidates_renormalised_best_first():
    assert restrict(UNSURE, ("en", "de")) == [
        ("de", pytest.approx(0.6)),
        ("en", pytest.approx(0.4)),
    ]
    assert restrict(UNSURE)[0] == ("bo", pytest.approx(0.4))  # no candidates: all languages
    assert restrict([("bo", 1.0)], ("en", "de")) == [("en", 0.5), ("de", 0.5)]  # no mass left


def test_undecided_until_the_best_passes_the_threshold():
    lid = LanguageID()
    assert lid.label == UNDETERMINED and lid.hold and not lid.needs_detection(0.3)
    assert lid.needs_detection(0.6)
    assert not lid.observe(UNSURE, 0.6)
    assert lid.guess == "bo" and lid.hold and lid.label == UNDETERMINED
    assert not lid.needs_detection(1.2) and lid.needs_detection(1.6)  # every 1 s of new speech
    assert not lid.observe(DE, 1.6)  # passes the bar, but the detection before said `bo`
    assert lid.guess == "de" and not lid.needs_detection(2.0) and lid.needs_detection(2.1)  # soon
    assert lid.observe(DE, 2.6)  # two in a row agree
    assert (lid.language, lid.probability, lid.decided_at) == ("de", 0.9, 2.6)
    assert not lid.hold and not lid.needs_detection(5.0)


def test_a_sure_detection_needs_no_second():
    lid = LanguageID()
    assert lid.observe([("es", 0.96), ("en", 0.04)], 1.6) and lid.language == "es"


def test_candidates_turn_an_unsure_detection_into_a_decision():
    lid = LanguageID(("en", "de"), LanguagePolicy(threshold=0.55, bars=()))
    assert not lid.observe(UNSURE, 1.6) and lid.guess == "de"  # the first: no agreement yet
    assert lid.observe(UNSURE, 2.6) and lid.language == "de" and lid.probability == 0.6


def test_decides_the_best_at_the_latest_after_max_speech_or_at_the_end_of_the_stream():
    lid = LanguageID(policy=LanguagePolicy(max_speech=3.0))
    assert not lid.observe(UNSURE, 2.9)
    assert lid.observe(UNSURE, 3.0) and lid.language == "bo"
    lid = LanguageID()
    assert lid.observe(UNSURE, 1.0, final=True) and lid.language == "bo"


def test_no_switch_without_evidence():
    lid = LanguageID()
    lid.observe(EN, 1.0)
    # a pass whose own window keeps English likely enough, with words: no re-detection
    for speech in (12.0, 12.6, 13.2):
        assert not lid.evidence([("en", 0.5), ("de", 0.5)], words=3, audio=2.0, speech=speech)
    assert not lid.needs_detection(10.0) and not lid.hold


def test_a_switch_needs_evidence_then_a_confident_redetection():
    lid = LanguageID()
    lid.observe(EN, 1.0)
    german = [("de", 0.9), ("en", 0.1)]
    assert not lid.evidence(german, words=3, audio=1.4, speech=10.9)  # fresh decision: no doubt
    assert not lid.evidence(german, words=3, audio=1.4, speech=11.4)  # one pass is not enough
    assert lid.evidence(german, words=3, audio=2.0, speech=12.0)  # two in a row are
    assert lid.hold and lid.needs_detection(12.0)
    assert not lid.observe(DE, 12.6) and lid.hold  # one confident re-detection: not yet
    assert not lid.needs_detection(13.0) and lid.needs_detection(14.1)  # again on more speech
    assert lid.observe(DE, 14.1) and lid.language == "de" and lid.switches == 1
    assert not lid.hold


def test_hysteresis_an_unconvincing_redetection_keeps_the_language():
    lid = LanguageID()
    lid.observe(EN, 1.0)
    lid.evidence([], words=0, audio=3.2, speech=11.7)  # a long buffer with no words...
    lid.evidence([], words=0, audio=3.5, speech=12.0)  # ... twice
    assert lid.hold
    assert not lid.observe([("de", 0.6), ("en", 0.4)], 12.0)  # below the switch bar
    assert lid.language == "en" and lid.hold  # inconclusive: asks again with more speech
    assert not lid.needs_detection(12.5) and lid.needs_detection(13.5)
    assert not lid.observe([("de", 0.6), ("en", 0.4)], 13.5)
    assert not lid.observe([("de", 0.6), ("en", 0.4)], 15.0)
    assert lid.language == "en" and not lid.hold  # gave up after max_rechecks (3)
    # cooldown: the next 10 s of speech take no evidence
    assert not lid.evidence([("de", 1.0)], words=3, audio=1.0, speech=24.5)
    assert not lid.evidence([("de", 1.0)], words=3, audio=1.0, speech=24.9)


def test_a_conclusive_redetection_of_the_same_language_ends_the_hold():
    lid = LanguageID()
    lid.observe(EN, 1.0)
    lid.request(3.0)
    assert lid.hold and lid.needs_detection(3.0)
    assert not lid.observe(EN, 3.0) and not lid.hold and lid.switches == 0


def test_final_redetection_always_ends_the_hold():
    lid = LanguageID()
    lid.observe(EN, 1.0)
    lid.request(3.0)
    assert not lid.observe([("de", 0.6), ("en", 0.4)], 3.2, final=True)
    assert not lid.hold and lid.language == "en"


def test_evidence_is_ignored_while_undecided():
    lid = LanguageID()
    assert not lid.evidence([("de", 1.0)], words=0, audio=5.0, speech=5.0)
    assert not lid.decided


def test_a_dismissed_redetection_keeps_the_language_and_cools_down():
    lid = LanguageID()
    lid.observe(EN, 1.0)
    lid.request(3.0)
    lid.dismiss(3.2)
    assert not lid.hold and lid.language == "en"
    assert not lid.evidence([("de", 1.0)], words=3, audio=1.0, speech=13.0)


def test_two_redetections_must_agree_on_the_new_language():
    lid = LanguageID()
    lid.observe(EN, 1.0)
    lid.request(3.0)
    assert not lid.observe(DE, 3.0)  # suspects German
    assert not lid.observe([("fr", 0.9), ("en", 0.1)], 4.5)  # then French: no switch
    assert lid.language == "en"


def test_a_short_window_needs_a_clearer_answer():
    # talk-lecture-de, 0.7 s of speech, among en,de,es,fr: English at 0.83 (wrong); wait for more
    lid = LanguageID(("en", "de", "es", "fr"))
    assert not lid.observe([("en", 0.828), ("de", 0.1), ("es", 0.05), ("fr", 0.022)], 0.7)
    assert lid.observe([("en", 0.97), ("de", 0.03)], 0.7) and lid.language == "en"
    # short-weather-de (espeak) among en,de,es,fr: English at 0.87 on 4.5 s of speech (wrong)
    lid = LanguageID(("en", "de", "es", "fr"))
    assert not lid.observe([("en", 0.872), ("de", 0.096), ("es", 0.02), ("fr", 0.012)], 4.5)
    assert not lid.observe([("en", 0.842), ("de", 0.152), ("es", 0.004), ("fr", 0.002)], 6.0)
    assert not lid.observe([("de", 0.93), ("en", 0.07)], 7.0)  # over the bar, not agreed yet
    assert lid.observe([("de", 0.85), ("en", 0.15)], 8.0) and lid.language == "de"


def test_a_suspicion_survives_unsure_redetections_into_the_next_utterance():
    # talk-question-en-de among en,de: the question's first sentence reads German at 0.97, the
    # rest of the utterance less so; its second utterance confirms German
    lid = LanguageID(("en", "de"))
    lid.observe(EN, 1.0)
    lid.request(30.0)
    assert not lid.observe([("de", 0.97), ("en", 0.03)], 32.5)  # suspects German
    assert not lid.observe([("de", 0.64), ("en", 0.36)], 34.0)  # unsure: the suspicion stands
    assert not lid.observe([("en", 0.7), ("de", 0.3)], 36.0, final=True)  # not conclusive
    assert lid.language == "en" and not lid.hold and not lid.settled  # the suspicion stands
    assert not lid.evidence([("de", 1.0)], words=3, audio=1.0, speech=36.5)  # until the next turn
    lid.turn(36.5)  # which is re-detected before anything of it is committed
    assert lid.hold and lid.needs_detection(36.5)
    assert lid.observe([("de", 0.96), ("en", 0.04)], 39.0) and lid.language == "de"
    assert lid.settled


def test_a_conclusive_redetection_clears_the_suspicion():
    lid = LanguageID(("en", "de"))
    lid.observe(EN, 1.0)
    lid.request(30.0)
    assert not lid.observe([("de", 0.97), ("en", 0.03)], 32.5)
    assert not lid.observe([("en", 0.9), ("de", 0.1)], 34.0)  # English after all
    lid.request(50.0)
    assert not lid.observe([("de", 0.97), ("en", 0.03)], 52.5)  # a first suspicion again
    assert lid.language == "en"


def test_after_a_switch_the_next_utterance_may_switch_back():
    lid = LanguageID(("en", "de"))
    lid.observe(EN, 1.0)
    lid.request(30.0)
    lid.observe(DE, 32.5)
    assert lid.observe(DE, 34.0) and lid.language == "de"
    assert not lid.evidence(EN, words=3, audio=1.0, speech=34.5)  # the same utterance: quiet
    lid.turn(34.6)  # the answer begins
    assert lid.settled
    lid.evidence(EN, words=3, audio=1.0, speech=35.0)
    assert lid.evidence(EN, words=3, audio=1.6, speech=35.6)
    lid.observe(EN, 37.0)
    assert lid.observe(EN, 38.5) and lid.language == "en" and lid.switches == 2


def test_a_suspicion_lasts_into_the_next_utterance_only():
    lid = LanguageID(("en", "de"))
    lid.observe(EN, 1.0)
    lid.request(30.0)
    assert not lid.observe([("de", 0.97), ("en", 0.03)], 32.5)
    assert not lid.observe([("en", 0.7), ("de", 0.3)], 34.0, final=True)
    lid.turn(35.0)
    assert not lid.observe([("en", 0.7), ("de", 0.3)], 37.0, final=True)  # unsure again
    lid.turn(38.0)  # two utterances later: dropped; a German-sounding window is a first suspicion
    assert lid.settled and not lid.hold
    lid.request(40.0)
    assert not lid.observe([("de", 0.97), ("en", 0.03)], 42.5) and lid.language == "en"


def test_an_inconclusive_request_without_a_suspicion_cools_down():
    lid = LanguageID(("en", "de"))
    lid.observe(EN, 1.0)
    lid.request(30.0)
    # no other language ≥ 60 % (the suspicion bar)
    assert not lid.observe([("de", 0.55), ("en", 0.45)], 32.5, final=True)
    lid.turn(33.0)  # nothing suspected: the next utterance is not re-detected ...
    assert lid.settled and not lid.hold
    lid.evidence([("de", 1.0)], words=3, audio=1.0, speech=35.0)
    assert not lid.evidence([("de", 1.0)], words=3, audio=1.6, speech=35.6)  # ... nor doubted
