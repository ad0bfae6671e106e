"""Sentences of a whole transcript: pysbd on the text, mapped back to timed words.

The transcript is first cut at long pauses (`max_pause`), so a missing full stop
never merges two topics into one giant sentence and pysbd works on short texts.
Each sentence belongs to the speech segment (utterance) its last word falls in.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import pysbd

from ..events import Word
from ..mt.sentences import Sentence
from ..words import join_words
from .segment import SpeechSegment

__all__ = ["Sentence", "split_sentences", "utterance_of"]


def _segmenter(language: str) -> pysbd.Segmenter:
    try:
        return pysbd.Segmenter(language=language, clean=False)
    except ValueError:  # a language pysbd has no rules for: English rules split on punctuation fine
        return pysbd.Segmenter(language="en", clean=False)


def split_sentences(
    words: Sequence[Word], language: str, segments: Sequence[SpeechSegment], *, max_pause: float
) -> list[Sentence]:
    """Sentences in order, indexed from 0; every word lands in exactly one."""
    segmenter = _segmenter(language)
    groups: list[list[Word]] = []
    for paragraph in _paragraphs(words, max_pause):
        groups.extend(_split_paragraph(segmenter, paragraph))
    return [Sentence(i, utterance_of(g[-1], segments), tuple(g)) for i, g in enumerate(groups)]


def _paragraphs(words: Sequence[Word], max_pause: float) -> list[list[Word]]:
    out: list[list[Word]] = []
    for word in words:
        if not out or word.start - out[-1][-1].end > max_pause:
            out.append([])
        out[-1].append(word)
    return out


def _split_paragraph(segmenter: pysbd.Segmenter, words: list[Word]) -> list[list[Word]]:
    """Map pysbd's sentence strings back onto words by counting non-space characters
    (robust to how pysbd treats whitespace, and to repeated sentences)."""
    sentences = segmenter.segment(join_words(words))
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


def utterance_of(word: Word, segments: Sequence[SpeechSegment]) -> int:
    """1-based index of the segment holding the word's middle (the nearest one otherwise)."""
    if not segments:
        return 1
    middle = (word.start + word.end) / 2
    starts = [s.start for s in segments]
    i = max(0, bisect.bisect_right(starts, middle) - 1)
    if middle > segments[i].end and i + 1 < len(segments):
        if segments[i + 1].start - middle < middle - segments[i].end:
            i += 1
    return i + 1
