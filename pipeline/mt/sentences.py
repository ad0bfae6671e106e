"""Sentence assembly from committed source words (pure core, pysbd for splitting).

Committed words accumulate into the open sentence. A sentence is complete when
pysbd splits it off from words that follow it, or when the utterance ends (a
speech pause is a boundary a listener expects a final translation at).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pysbd

from ..events import Word
from ..words import join_words

__all__ = ["Sentence", "SentenceBuffer"]

# pysbd knows these; others fall back to English rules, which is fine for punctuation.
_PYSBD_LANGS = {
    "en",
    "de",
    "es",
    "fr",
    "it",
    "nl",
    "pl",
    "ru",
    "zh",
    "ja",
    "el",
    "ar",
    "hi",
    "fa",
    "hy",
    "my",
    "am",
    "bg",
    "da",
    "kk",
    "mr",
    "sk",
    "ur",
}


@dataclass(frozen=True, slots=True)
class Sentence:
    index: int  # per stream
    utterance: int  # the utterance its last word belongs to
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return join_words(self.words)

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end


class SentenceBuffer:
    def __init__(self, language: str = "en") -> None:
        self._segmenter = pysbd.Segmenter(
            language=language if language in _PYSBD_LANGS else "en", clean=False, char_span=True
        )
        self._words: list[Word] = []
        self._utterance = 0
        self.next_index = 0  # index of the open sentence

    @property
    def open(self) -> Sentence | None:
        if not self._words:
            return None
        return Sentence(self.next_index, self._utterance, tuple(self._words))

    def add(self, words: Sequence[Word], utterance: int) -> list[Sentence]:
        """Append committed words; return the sentences this completes."""
        self._words.extend(words)
        self._utterance = utterance
        done: list[Sentence] = []
        while (count := self._first_sentence_length()) is not None:
            done.append(self._close(count))
        return done

    def finish(self) -> Sentence | None:
        """End of utterance: the open sentence is complete."""
        return self._close(len(self._words)) if self._words else None

    def _close(self, count: int) -> Sentence:
        sentence = Sentence(self.next_index, self._utterance, tuple(self._words[:count]))
        self._words = self._words[count:]
        self.next_index += 1
        return sentence

    def _first_sentence_length(self) -> int | None:
        """Word count of the first sentence, if pysbd sees another after it."""
        if len(self._words) < 2:
            return None
        text = " ".join(w.word for w in self._words)
        spans = self._segmenter.segment(text)
        if len(spans) < 2:
            return None
        boundary = spans[0].end
        length, count = 0, 0
        for word in self._words:
            length += len(word.word) + 1
            count += 1
            if length >= boundary:
                break
        return count if 0 < count < len(self._words) else None
