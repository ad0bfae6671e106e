"""Subtitle cues spell words as Whisper does: a glued piece continues the word before it."""

from __future__ import annotations

from pipeline.events import Word
from pipeline.mt.sentences import Sentence
from pipeline.offline.config import SubtitleLimits
from pipeline.offline.subtitles import bilingual_cues, source_cues


def words(*pieces: str) -> tuple[Word, ...]:
    """Words 0.3 s apart; a piece starting with "+" is glued to the one before."""
    return tuple(
        Word(p.lstrip("+"), 0.3 * i, 0.3 * i + 0.25, glued=p.startswith("+"))
        for i, p in enumerate(pieces)
    )


def test_source_cues_join_glued_pieces_without_a_space():
    sentence = Sentence(0, 0, words("The", "Wi", "+-Fi", "is", "down", "at", "9", "o", "+'clock."))
    cues = source_cues([sentence], SubtitleLimits(), 10.0)
    assert [c.text for c in cues] == ["The Wi-Fi is down at 9 o'clock."]


def test_a_cue_never_breaks_inside_a_glued_word():
    # 20 words of 5-6 characters need several cues; every break before "+..." would split a word
    pieces = [p for i in range(10) for p in (f"word{i}", "+-ish")]
    cues = source_cues([Sentence(0, 0, words(*pieces))], SubtitleLimits(), 30.0)
    assert len(cues) > 1
    assert all(not c.text.startswith("-ish") for c in cues)
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == [
        f"word{i}-ish" for i in range(10)
    ]


def test_bilingual_cues_join_glued_pieces_too():
    sentence = Sentence(0, 0, words("Das", "Wi", "+-Fi", "geht."))
    cues = bilingual_cues([sentence], ["The Wi-Fi works."], SubtitleLimits(), 5.0)
    assert cues[0].text.split("\n")[0] == "Das Wi-Fi geht."
