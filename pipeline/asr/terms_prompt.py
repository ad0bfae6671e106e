"""Which glossary terms go into Whisper's prompt (pure core; issue 18's recognition side).

Whisper reads its prompt as text said before the audio, so a term spelled there is
more likely to be heard as written ("Halvorsen", not "Haverson"). The prompt holds
about 223 tokens and the committed context wants most of them, so the terms get a
token budget:

- a glossary whose source terms all fit goes in whole, in glossary order (the prompt
  stays the same pass after pass);
- a longer one is ranked, and the best that fit go in: terms that the current partial
  nearly spells (a mishearing the next pass may correct), then terms said recently
  (committed text: a talk repeats its terms), then names (capitalised: the words
  Whisper gets wrong most), then the rest in glossary order.

Only the source language's forms are candidates: a target-language word in the
prompt makes Whisper translate into it. `count` is the tokenizer's count
(`ASRBackend.count_tokens`, through `term_costs`); GPT-2 style BPE splits at spaces and punctuation, so
the count of `" term,"` pieces adds up to the count of the rendered list.

The stage and the batch path (pipeline/offline) both choose with `choose_terms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from difflib import SequenceMatcher

from ..glossary import Glossary, letters, term_in

__all__ = [
    "choose_terms",
    "echo_mask",
    "near",
    "rank_terms",
    "render",
    "source_terms",
    "term_costs",
    "term_runs",
]

_NEAR = 0.7  # similarity of a term and heard words that counts as "nearly spelled"
_NEAR_WORDS = 30  # the last words of the partial compared with the terms


def source_terms(glossary: Glossary | None, lang: str | None) -> tuple[str, ...]:
    """The distinct `lang` forms of the glossary, in its order (none without a language)."""
    if glossary is None or lang is None:
        return ()
    forms = (t.form(lang) for t in glossary.terms)
    return tuple(dict.fromkeys(f for f in forms if f))


def render(terms: Sequence[str]) -> str:
    """The prompt text of the chosen terms: a plain list, as a speaker's notes would read."""
    return ", ".join(terms) + "." if terms else ""


def _piece(term: str) -> str:
    return " " + term + ","


def near(term: str, heard: Sequence[str]) -> bool:
    """Whether some run of `heard` words spells `term` exactly or nearly ("Haverson" for
    "Halvorsen", "Nordlec Tenergy" for "Nordlicht Energy"): same first letter, and a
    similarity of at least 0.7 over the letters, spaces and case left out."""
    want = letters(term)
    if not want:
        return False
    n = len(term.split())
    keys = [letters(w) for w in heard]
    for size in {max(1, n - 1), n, n + 1}:
        for i in range(len(keys) - size + 1):
            got = "".join(keys[i : i + size])
            if not got or got[0] != want[0] or not 0.6 * len(want) <= len(got) <= 1.5 * len(want):
                continue
            matcher = SequenceMatcher(None, want, got)
            if matcher.quick_ratio() >= _NEAR and matcher.ratio() >= _NEAR:
                return True
    return False


def rank_terms(terms: Sequence[str], *, recent: str = "", partial: str = "") -> list[str]:
    """Best first: nearly spelled in the partial, said recently, names, the rest (each in
    glossary order)."""
    heard = partial.split()[-_NEAR_WORDS:]

    def rank(term: str) -> int:
        if heard and near(term, heard):
            return 0
        if recent and term_in(term, recent):
            return 1
        if any(w[:1].isupper() for w in term.split()):
            return 2
        return 3

    return sorted(terms, key=rank)  # stable: glossary order within a rank


def term_costs(terms: Sequence[str], count: Callable[[str], int]) -> dict[str, int]:
    """Each term's tokens in the rendered list (computed once per glossary, not per pass)."""
    return {t: count(_piece(t)) for t in terms}


def choose_terms(
    terms: Sequence[str],
    costs: Mapping[str, int],
    *,
    budget: int,
    recent: str = "",
    partial: str = "",
) -> tuple[str, ...]:
    """The terms for one pass, in glossary order, their rendered list within `budget` tokens
    (`costs` from `term_costs`)."""
    if not terms or budget <= 0:
        return ()
    if sum(costs[t] for t in terms) <= budget:
        return tuple(terms)
    chosen, used = set(), 0
    for term in rank_terms(terms, recent=recent, partial=partial):
        if used + costs[term] <= budget:  # a long term that does not fit leaves room for others
            chosen.add(term)
            used += costs[term]
    return tuple(t for t in terms if t in chosen)


# --- the echo guard ------------------------------------------------------------------
# Prompt words can be read into audio that does not hold them (Whisper continuing the
# "previous text"). Measured with whisper-base and tiny.en on silence, noise, hum and
# short non-term speech (scripts/bench_term_echo.py): no term came out; the guard below
# is for what the measurement did not cover.

_ECHO_NO_SPEECH = 0.5  # a pass of nothing but prompt terms is dropped above this
_ECHO_RUN = 3  # this many prompt terms back to back are the prompt's list read out


def term_runs(words: Sequence[str], terms: Sequence[str]) -> list[tuple[int, int, int]]:
    """Runs of prompt terms back to back in `words`: (first word, end, number of terms)."""
    forms = {tuple(letters(w) for w in t.split()) for t in terms}
    wanted = sorted((f for f in forms if f and all(f)), key=len, reverse=True)  # longest first
    keys = [letters(w) for w in words]
    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < len(keys):
        start, count = i, 0
        while i < len(keys):
            form = next((f for f in wanted if tuple(keys[i : i + len(f)]) == f), None)
            if form is None:
                break
            i, count = i + len(form), count + 1
        if count:
            runs.append((start, i, count))
        else:
            i += 1
    return runs


def echo_mask(words: Sequence[str], terms: Sequence[str], no_speech_prob: float) -> list[bool]:
    """Which words to keep: a pass that is nothing but prompt terms while Whisper doubts
    there is speech is dropped whole; a run of three or more prompt terms is dropped."""
    keep = [True] * len(words)
    if not words or not terms:
        return keep
    runs = term_runs(words, terms)
    if sum(end - start for start, end, _ in runs) == len(words):
        if no_speech_prob >= _ECHO_NO_SPEECH:
            return [False] * len(words)
    for start, end, count in runs:
        if count >= _ECHO_RUN:
            keep[start:end] = [False] * (end - start)
    return keep
