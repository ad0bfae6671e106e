from pipeline.events import Word
from pipeline.mt.scheduler import Job, LatestWinsScheduler
from pipeline.mt.sentences import Sentence, SentenceBuffer


def ws(text: str, start: float = 0.0) -> list[Word]:
    return [Word(w, start + i, start + i + 0.5) for i, w in enumerate(text.split())]


def test_sentence_completes_when_the_next_one_starts():
    buf = SentenceBuffer("en")
    assert buf.add(ws("Good morning everyone."), 1) == []
    assert buf.open.text == "Good morning everyone."
    done = buf.add(ws("Welcome to", 3), 1)
    assert [s.text for s in done] == ["Good morning everyone."]
    assert done[0].index == 0 and done[0].start == 0 and done[0].end == 2.5
    assert buf.open.text == "Welcome to" and buf.open.index == 1


def test_abbreviations_do_not_split():
    buf = SentenceBuffer("en")
    assert buf.add(ws("Dr. Smith speaks at 3 p.m. today"), 1) == []


def test_several_sentences_in_one_commit():
    buf = SentenceBuffer("en")
    done = buf.add(ws("One. Two. Three"), 2)
    assert [s.text for s in done] == ["One.", "Two."]
    assert [s.index for s in done] == [0, 1]


def test_finish_closes_the_open_sentence():
    buf = SentenceBuffer("en")
    buf.add(ws("no punctuation here"), 4)
    s = buf.finish()
    assert s.text == "no punctuation here" and s.utterance == 4
    assert buf.finish() is None and buf.open is None


def sent(i: int, text: str = "x") -> Sentence:
    return Sentence(i, 1, tuple(ws(text)))


def test_latest_partial_wins():
    s = LatestWinsScheduler()
    s.partial("de", sent(0, "a"))
    s.partial("de", sent(0, "a b"))
    s.partial("de", sent(0, "a b c"))
    job = s.next()
    assert job.sentence.text == "a b c" and not job.final
    assert s.next() is None and s.skipped == 2


def test_commits_first_in_order_and_never_dropped():
    s = LatestWinsScheduler()
    s.partial("es", sent(2))
    for i in range(3):
        s.commit("de", sent(i))
    assert [s.next().sentence.index for _ in range(3)] == [0, 1, 2]
    assert s.next().lang == "es"


def test_partial_of_committed_sentence_is_dropped():
    s = LatestWinsScheduler()
    s.partial("de", sent(0))
    s.commit("de", sent(0))
    s.partial("de", sent(0))
    assert s.next().final
    assert s.next() is None


def test_languages_do_not_replace_each_other():
    s = LatestWinsScheduler()
    s.partial("de", sent(0))
    s.partial("es", sent(0))
    assert {s.next().lang, s.next().lang} == {"de", "es"}


def test_an_admit_policy_defers_partials_never_commits():
    s = LatestWinsScheduler()
    s.partial("de", sent(0, "a"))
    s.partial("es", sent(0, "a"))
    refuse_de = lambda job: None if job.lang == "de" else job  # noqa: E731
    assert s.pending(refuse_de) and s.next(refuse_de).lang == "es"
    assert not s.pending(refuse_de) and s.next(refuse_de) is None  # de waits, not dropped
    s.partial("de", sent(0, "a b"))  # a newer one still replaces it
    s.commit("es", sent(0, "a b."))
    never = lambda job: None  # noqa: E731
    assert s.pending(never) and s.next(never).final  # commits are not subject to it
    assert s.next().sentence.text == "a b" and s.skipped == 1


def test_an_admit_policy_may_send_a_partial_to_the_fast_model():
    s = LatestWinsScheduler()
    s.partial("de", sent(0))
    job = s.next(lambda job: Job(job.lang, job.sentence, False, fast=True))
    assert job.fast and s.next() is None
