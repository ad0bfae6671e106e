"""Text from words as Whisper spells them: pieces without a leading space are glued on."""

from pipeline.mt.sentences import Sentence
from pipeline.offline.sentences import split_sentences
from pipeline.words import join_words, word_from_piece


def pieces(*texts):
    out = []
    for i, text in enumerate(texts):
        word = word_from_piece(text, float(i), i + 0.5, first=not out)
        if word is not None:
            out.append(word)
    return out


def test_pieces_without_a_leading_space_continue_the_word_before():
    assert join_words(pieces(" the", " Wi", "-Fi", " password")) == "the Wi-Fi password"
    assert join_words(pieces(" at", " 6", " o", "'clock.")) == "at 6 o'clock."
    assert join_words(pieces(" a", " cold", "-hearted", " man")) == "a cold-hearted man"
    assert join_words(pieces("你", "好", "。")) == "你好。"  # no spaces in Chinese
    assert join_words(pieces("-Fi", " x")) == "-Fi x"  # the first piece is never glued
    assert word_from_piece("  ", 0, 1, first=False) is None
    assert join_words([]) == ""


def test_sentences_read_as_spelled():
    words = tuple(pieces(" The", " Wi", "-Fi", " is", " free."))
    assert Sentence(0, 1, words).text == "The Wi-Fi is free."
    split = split_sentences(
        pieces(" Wi", "-Fi", " is", " free.", " It", " is", " 6", " o", "'clock."),
        "en",
        [],
        max_pause=2,
    )
    assert [s.text for s in split] == ["Wi-Fi is free.", "It is 6 o'clock."]


def test_agreed_length_counts_the_prefix_every_hypothesis_shares():
    from pipeline.words import agreed_length

    assert agreed_length([["a", "b", "c"], ["a", "b", "d"]]) == 2
    assert agreed_length([["a", "b"], ["a", "b", "c"], ["a"]]) == 1
    assert agreed_length([["Today,"], ["today"]], key=lambda w: w.strip(",").lower()) == 1
    assert agreed_length([[], ["a"]]) == 0
