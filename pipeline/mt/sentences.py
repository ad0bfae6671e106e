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

__all__ = ["Sentence", "SentenceBuffer", "segmenter", "split_words"]


def segmenter(language: str) -> pysbd.Segmenter:
    """pysbd's splitter for a language; languages it has no rules for get English rules,
    which split on punctuation fine."""
    try:
        return pysbd.Segmenter(language=language, clean=False)
    except ValueError:
        return pysbd.Segmenter(language="en", clean=False)


def split_words(splitter: pysbd.Segmenter, words: Sequence[Word]) -> list[list[Word]]:
    """The one sentence mapper: pysbd's sentences of the words' text, mapped back onto
    the words by counting non-space characters (robust to how pysbd treats whitespace
    and to repeated sentences). Every word lands in exactly one group."""
    sentences = splitter.segment(join_words(words))
    groups: list[list[Word]] = []
    i = 0
    for sentence in sentences:
        want = sum(not c.isspace() for c in sentence)
        group: list[Word] = []
        got = 0
        while i < len(words) and got < want:
            group.append(words[i])
            got += sum(not c.isspace() for c in words[i].word)
            i += 1
        if group:
            groups.append(group)
    if i < len(words):  # never lose words, whatever pysbd returned
        groups.append(list(words[i:]))
    return groups


@dataclass(frozen=True, slots=True)
class Sentence:
    index: int  # per stream
    utterance: int  # the utterance its last word belongs to
    words: tuple[Word, ...]
    lang: str = "en"  # the source language it was spoken in

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
    """The open sentence of one source language; `next_index` continues a stream's count."""

    def __init__(self, language: str = "en", *, next_index: int = 0) -> None:
        self.language = language
        self._segmenter = segmenter(language)
        self._words: list[Word] = []
        self._utterance = 0
        self.next_index = next_index  # index of the open sentence

    @property
    def open(self) -> Sentence | None:
        if not self._words:
            return None
        return Sentence(self.next_index, self._utterance, tuple(self._words), self.language)

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
        sentence = Sentence(
            self.next_index, self._utterance, tuple(self._words[:count]), self.language
        )
        self._words = self._words[count:]
        self.next_index += 1
        return sentence

    def _first_sentence_length(self) -> int | None:
        """Word count of the first sentence, if pysbd sees another after it."""
        if len(self._words) < 2:
            return None
        groups = split_words(self._segmenter, self._words)
        return len(groups[0]) if len(groups) >= 2 else None
