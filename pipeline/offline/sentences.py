"""Sentences of a whole transcript: pysbd on the text, mapped back to timed words.

pysbd and the mapping back onto words are the live translator's (`mt/sentences.py`):
one sentence mapper. The transcript is first cut at long pauses (`max_pause`), so a missing full stop
never merges two topics into one giant sentence and pysbd works on short texts.
Each sentence belongs to the speech segment (utterance) its last word falls in.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from ..events import Word
from ..mt.sentences import Sentence, segmenter, split_words
from .segment import SpeechSegment

__all__ = ["Sentence", "split_sentences", "utterance_of"]


def split_sentences(
    words: Sequence[Word], language: str, segments: Sequence[SpeechSegment], *, max_pause: float
) -> list[Sentence]:
    """Sentences in order, indexed from 0; every word lands in exactly one."""
    splitter = segmenter(language)
    groups: list[list[Word]] = []
    for paragraph in _paragraphs(words, max_pause):
        groups.extend(split_words(splitter, paragraph))
    return [
        Sentence(i, utterance_of(g[-1], segments), tuple(g), language) for i, g in enumerate(groups)
    ]


def _paragraphs(words: Sequence[Word], max_pause: float) -> list[list[Word]]:
    out: list[list[Word]] = []
    for word in words:
        if not out or word.start - out[-1][-1].end > max_pause:
            out.append([])
        out[-1].append(word)
    return out


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
