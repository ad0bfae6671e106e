"""Heard words that nearly spell a glossary term are written as the term (pure core).

Whisper's prompt moves a name towards its spelling but not always onto it: with the
talk-energy-en glossary, whisper-base hears "Halvorsen" as "Havorsen" and "feed-in
tariff" as "feeding tariff". An interpreter's glossary says how these are written, so
a run of heard words that spells a prompt term nearly enough becomes the term, before
LocalAgreement compares passes and before the translator looks for terms in the
sentence (which then finds and constrains it).

"Nearly enough" is strict, to leave ordinary speech alone. The term has at least six
letters, the heard run starts with its first letter, and, with case, spaces and
punctuation left out, either

- the letters are at least 88 % alike (`difflib`'s ratio): 0.94 for "Havorsen", 0.96
  for "feeding tariff", but 0.87 for "load lifting" against "load shifting"; or
- for a name (a capitalised term) heard as a name (capitalised), whose vowels Whisper
  gets wrong most, the consonants are at least 90 % alike and the letters 70 %:
  "Haverson" (0.91, 0.71), not "dashboard" for "Dashwood" (0.73) nor "persons" for
  "Parsons" (lower case).

A run that already holds the term (also inflected: "heat pumps") is left as heard, and so
is a word that differs from the term only in its last three letters: another form of a
word ("maintained" for the term "maintainer"), not a mishearing, which differs inside.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from ..audio_format import SENTENCE_END
from ..events import Word
from ..glossary import letters, term_in
from ..words import join_words

__all__ = ["respell", "spelled_as"]

_SIMILAR = 0.88
_NAME_LETTERS = 0.7
_NAME_CONSONANTS = 0.9
_VOWELS = frozenset("aeiouyäöüéèêáàíóú")
_MIN_LETTERS = 6
_ENDING = 3  # letters at the end in which two forms of one word differ ("-ed", "-er", "-ing")
# a heard word: the word, a possessive, trailing punctuation
_TAIL = re.compile(r"^(.*?)(['’]s)?(\W*)$", re.DOTALL)


def _ends(word: Word) -> bool:
    return word.word.rstrip().endswith(SENTENCE_END)


def spelled_as(heard: str, term: str) -> bool:
    """Whether `heard` (one or more words) is a near miss of `term`, by the rule above."""
    want, got = letters(term), letters(heard)
    if len(want) < _MIN_LETTERS or not got or got[0] != want[0] or term_in(term, heard):
        return False
    if got != want and _same_but_ending(want, got):  # "maintained": a form, not a mishearing
        return False
    alike = _ratio(want, got)
    if alike >= _SIMILAR:
        return True
    name = _capitalised(term) and _capitalised(heard)
    return (
        name
        and alike >= _NAME_LETTERS
        and _ratio(_consonants(want), _consonants(got)) >= _NAME_CONSONANTS
    )


def _same_but_ending(a: str, b: str) -> bool:
    shared = len(os.path.commonprefix([a, b]))
    return shared >= min(len(a), len(b)) - _ENDING


def _ratio(a: str, b: str) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.ratio() if matcher.quick_ratio() >= _NAME_LETTERS else 0.0


def _capitalised(text: str) -> bool:
    return text.strip()[:1].isupper()


def _consonants(key: str) -> str:
    return key[0] + "".join(ch for ch in key[1:] if ch not in _VOWELS)


def respell(words: Sequence[Word], terms: Sequence[str]) -> list[Word]:
    """`words` with each near miss of a term (longest terms first) written as the term."""
    out = list(words)
    for term in sorted(terms, key=len, reverse=True):
        n = len(term.split())
        i = 0
        while i < len(out):
            size = next(
                (
                    s
                    for s in (n, n + 1, n - 1)
                    if s >= 1
                    and i + s <= len(out)
                    and not any(_ends(w) for w in out[i : i + s - 1])  # not across sentences
                    and spelled_as(join_words(out[i : i + s]), term)
                ),
                0,
            )
            if size:
                out[i : i + size] = _written(out[i : i + size], term)
                i += n
            else:
                i += 1
    return out


def _written(heard: Sequence[Word], term: str) -> list[Word]:
    """The term's words in place of `heard`, over its span; the last keeps the heard
    possessive and punctuation ("Havorsen's," -> "Halvorsen's,")."""
    tail = _TAIL.match(heard[-1].word)
    pieces = term.split()
    pieces[-1] += (tail.group(2) or "") + tail.group(3)
    start, end = heard[0].start, heard[-1].end
    step = (end - start) / len(pieces)
    times = [round(start + k * step, 2) for k in range(len(pieces))] + [end]
    return [
        Word(piece, times[k], times[k + 1], heard[0].glued if k == 0 else False)
        for k, piece in enumerate(pieces)
    ]
