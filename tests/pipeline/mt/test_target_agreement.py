"""Incremental target commits: the pure agreement core."""

from hypothesis import given
from hypothesis import strategies as st

from pipeline.mt.target_agreement import TargetAgreement, TargetCommits, keep_committed


def test_agreement_of_two_commits_all_but_the_lag():
    buf = TargetAgreement(agreement=2, lag=1)
    assert buf.insert("Ich habe") == []  # one translation: nothing agreed yet
    assert buf.insert("Ich habe den") == ["Ich"]  # agreed "Ich habe", one word held back
    assert buf.insert("Ich habe den Mann") == ["habe"]
    assert buf.committed == ["Ich", "habe"]
    assert buf.prefix() == "Ich habe"


def test_lag_zero_commits_the_whole_agreed_prefix():
    buf = TargetAgreement(agreement=2, lag=0)
    buf.insert("Guten Morgen")
    assert buf.insert("Guten Morgen alle") == ["Guten", "Morgen"]


def test_disagreement_commits_nothing_and_never_shrinks():
    buf = TargetAgreement(agreement=2, lag=0)
    buf.insert("Ich habe gesehen")
    assert buf.insert("Ich habe gesehen den") == ["Ich", "habe", "gesehen"]
    # a later translation that changed a committed word keeps the committed words
    assert buf.insert("Ich sah den Mann") == []
    assert buf.committed == ["Ich", "habe", "gesehen"]
    assert buf.insert("Ich sah den Mann heute") == ["Mann"]  # agreed on what follows


def test_three_translations_must_agree_with_agreement_three():
    buf = TargetAgreement(agreement=3, lag=0)
    buf.insert("a b")
    assert buf.insert("a b c") == []
    assert buf.insert("a x") == ["a"]


def test_keep_committed():
    assert keep_committed(["Ich", "habe"], "Ich habe den Mann") == "Ich habe den Mann"
    assert keep_committed(["Ich", "habe"], "Ich hatte den Mann") == "Ich habe den Mann"
    assert keep_committed([], "  frei ") == "frei"


def test_commits_per_sentence_and_language_and_the_final_begins_with_them():
    commits = TargetCommits(agreement=2, lag=1)
    assert commits.partial("de", 0, "Guten Morgen") == ("Guten Morgen", None)
    text, append = commits.partial("de", 0, "Guten Morgen allerseits")
    assert (append.text, append.offset) == ("Guten", 0)
    assert commits.prefix("de", 0) == "Guten" and commits.prefix("es", 0) is None
    assert commits.final("de", 0, "Hallo allerseits.") == "Guten allerseits."
    assert commits.prefix("de", 0) is None  # forgotten after the final


def test_sentence_mode_commits_nothing():
    commits = TargetCommits(enabled=False)
    for text in ("a b", "a b c", "a b c d"):
        assert commits.partial("de", 0, text) == (text, None)
    assert commits.prefix("de", 0) is None


@given(
    st.lists(st.lists(st.sampled_from("abcd"), max_size=8), min_size=1, max_size=12),
    st.integers(1, 3),
    st.integers(0, 3),
)
def test_commits_only_grow_and_each_is_a_prefix_of_the_translations_that_agreed(
    hypotheses, agreement, lag
):
    buf = TargetAgreement(agreement=agreement, lag=lag)
    seen: list[list[str]] = []
    committed: list[str] = []
    for words in hypotheses:
        text = keep_committed(buf.committed, " ".join(words))
        seen.append(text.split())
        new = buf.insert(" ".join(words))
        committed += new
        assert buf.committed == committed  # append-only, nothing re-committed
        recent = seen[-agreement:]
        if new:
            assert len(recent) == agreement
            assert all(h[: len(committed)] == committed for h in recent)
            assert all(len(h) >= len(committed) + lag for h in recent)
