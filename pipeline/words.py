"""Text from recognised words, spelled as Whisper spells them.

Whisper writes most words with a leading space; a piece without one continues the
word before it ("Wi" + "-Fi", "o" + "'clock", "cold" + "-hearted", and every
character of Chinese or Japanese). A `Word` keeps that as `glued`, and every
place that assembles text from words does it here, so captions read "Wi-Fi", not
"Wi -Fi".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .events import Word

__all__ = ["agreed_length", "join_words", "word_from_piece"]


def join_words(words: Iterable[Word]) -> str:
    """The words as one text: a space before each word that is not glued to the one before."""
    parts: list[str] = []
    for w in words:
        if parts and not w.glued:
            parts.append(" ")
        parts.append(w.word)
    return "".join(parts)


def word_from_piece(text: str, start: float, end: float, *, first: bool) -> Word | None:
    """A `Word` from a piece of Whisper's alignment (its text with the leading space, if
    any); None for an empty piece. The first piece of a decode is never glued."""
    word = text.strip()
    if not word:
        return None
    return Word(word, start, end, glued=not first and not text[:1].isspace())


def agreed_length(hypotheses: Iterable[Sequence[Any]], key: Callable[[Any], Any] = str) -> int:
    """How many leading words every hypothesis shares, compared by `key`: the agreed
    prefix of LocalAgreement, on the source side (ASR) and the target side (MT) alike."""
    count = 0
    for column in zip(*hypotheses):
        if len({key(word) for word in column}) != 1:
            break
        count += 1
    return count
