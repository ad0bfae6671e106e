from pipeline.asr.agreement import AgreementBuffer, normalise
from pipeline.events import Word


def hyp(text: str, start: float = 0.0, step: float = 0.4) -> list[Word]:
    return [
        Word(w, round(start + i * step, 2), round(start + (i + 1) * step, 2))
        for i, w in enumerate(text.split())
    ]


def words(ws):
    return " ".join(w.word for w in ws)


def test_first_hypothesis_commits_nothing():
    buf = AgreementBuffer(2)
    buf.insert(hyp("good morning"))
    assert buf.commit() == []
    assert words(buf.tail()) == "good morning"


def test_commits_the_agreed_prefix_only():
    buf = AgreementBuffer(2)
    buf.insert(hyp("good morning every"))
    buf.commit()
    buf.insert(hyp("good morning everyone and"))
    assert words(buf.commit()) == "good morning"
    assert words(buf.tail()) == "everyone and"
    buf.insert(hyp("good morning everyone and welcome"))
    assert words(buf.commit()) == "everyone and"
    assert words(buf.committed) == "good morning everyone and"


def test_agreement_ignores_case_and_punctuation_and_keeps_latest_form():
    buf = AgreementBuffer(2)
    buf.insert(hyp("Today we"))
    buf.insert(hyp("today, we will"))
    assert words(buf.commit()) == "today, we"
    assert normalise("Today,") == normalise("today") == "today"


def test_agreement_three_needs_three_passes():
    buf = AgreementBuffer(3)
    buf.insert(hyp("a b c"))
    assert buf.commit() == []
    buf.insert(hyp("a b d"))
    assert buf.commit() == []
    buf.insert(hyp("a x d"))
    assert words(buf.commit()) == "a"


def test_revised_committed_word_falls_back_to_time():
    buf = AgreementBuffer(2)
    buf.insert(hyp("ill be there"))
    buf.insert(hyp("ill be there soon"))
    assert words(buf.commit()) == "ill be there"
    # the decoder now spells the first word differently: positions no longer match
    buf.insert(hyp("I'll be there soon now"))
    buf.insert(hyp("I'll be there soon now ok"))
    assert words(buf.commit()) == "soon now"


def test_finalise_commits_everything_left():
    buf = AgreementBuffer(2)
    buf.insert(hyp("one two three"))
    buf.insert(hyp("one two four"))
    buf.commit()
    assert words(buf.finalise(hyp("one two four five"))) == "four five"
    assert buf.tail() == []


def test_trim_forgets_old_words():
    buf = AgreementBuffer(2)
    buf.insert(hyp("one two three four"))
    buf.insert(hyp("one two three four"))
    buf.commit()
    buf.trim(before=0.8)
    assert words(buf.committed) == "three four"
    buf.insert(hyp("three four five", start=0.8))
    buf.insert(hyp("three four five six", start=0.8))
    assert words(buf.commit()) == "five"
