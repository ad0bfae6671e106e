"""Subtitle cues from timed words: what each cue says, when it shows, how it wraps.

Source cues split a sentence's words so that each cue's text fits `max_lines`
lines of `max_line` characters, its spoken span fits `max_duration` and no pause
of `split_pause` falls inside, choosing (by dynamic programming) the fewest cues,
then breaks after punctuation, then cues of even length. A translation has no word times of its own: its text is
split into balanced parts, and each part takes the times of the stretch of source
words at the same share of the sentence. Finally every cue is held for at least
`min_duration` and long enough to read at `max_cps`, without running into the
next cue or past the end of the audio.

This is the one subtitle builder: `rtt batch` feeds it the sentences of a whole
file; the live TUI's Save feeds it what a stream committed (`stream_sentences`,
`span_sentences`), so both write the same cues for the same events.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import pysubs2

from ..audio_format import SENTENCE_END
from ..events import Word
from ..mt.sentences import Sentence, segmenter, split_words
from ..words import join_words
from .config import SubtitleLimits

__all__ = [
    "Cue",
    "bilingual_cues",
    "fits",
    "source_cues",
    "span_sentences",
    "split_text",
    "stream_sentences",
    "subtitle_text",
    "target_cues",
    "wrap",
]

_CLAUSE_END = (",", ";", ":", "，", "、", "；")
_GLUED_BREAK = 100.0  # the cost of a cue break inside a word ("Wi" | "-Fi")


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    text: str  # lines joined by "\n"


def source_cues(
    sentences: Sequence[Sentence], limits: SubtitleLimits, duration: float
) -> list[Cue]:
    cues = [
        Cue(g[0].start, g[-1].end, wrap(_join(g), limits))
        for s in sentences
        for g in _word_groups(s.words, limits)
    ]
    return _finish(cues, limits, duration)


def target_cues(
    sentences: Sequence[Sentence],
    translations: Sequence[str],
    limits: SubtitleLimits,
    duration: float,
) -> list[Cue]:
    cues: list[Cue] = []
    for sentence, text in zip(sentences, translations, strict=True):
        if not text.strip():
            continue
        span = sentence.end - sentence.start
        parts = max(
            math.ceil(len(text) / limits.max_chars), math.ceil(span / limits.max_duration), 1
        )
        pieces = split_text(text, [k / parts for k in range(1, parts)], limits)
        for words, piece in zip(_slices(sentence.words, pieces), pieces):
            cues.append(Cue(words[0].start, words[-1].end, wrap(piece, limits)))
    return _finish(cues, limits, duration)


def bilingual_cues(
    sentences: Sequence[Sentence],
    translations: Sequence[str],
    limits: SubtitleLimits,
    duration: float,
) -> list[Cue]:
    """Source cues with the matching share of the translation under each."""
    cues: list[Cue] = []
    for sentence, text in zip(sentences, translations, strict=True):
        groups = _word_groups(sentence.words, limits)
        sizes = [len(_join(g)) for g in groups]
        cuts = [sum(sizes[: k + 1]) / sum(sizes) for k in range(len(groups) - 1)]
        pieces = split_text(text, cuts, None) if text.strip() else [""] * len(groups)
        pieces += [""] * (len(groups) - len(pieces))
        for group, piece in zip(groups, pieces):
            body = wrap(_join(group), limits) + ("\n" + wrap(piece, limits) if piece else "")
            cues.append(Cue(group[0].start, group[-1].end, body))
    return _finish(cues, limits, duration)


def stream_sentences(
    utterances: Sequence[tuple[int, Sequence[Word]]], language: str
) -> list[Sentence]:
    """The sentences of a stream's committed words: each utterance's words (in order) split by
    the one sentence mapper, as the translator splits them (an utterance end ends a sentence)."""
    splitter = segmenter(language)
    out: list[Sentence] = []
    for utterance, words in utterances:
        if words:
            for group in split_words(splitter, words):
                out.append(Sentence(len(out), utterance, tuple(group), language))
    return out


def span_sentences(
    words: Sequence[Word], spans: Sequence[tuple[int, int, float, float]]
) -> list[Sentence]:
    """A translation's sentences, timed by the source words inside each committed span
    (sentence index, utterance, start, end); a span without words gets one of its own."""
    out: list[Sentence] = []
    for index, utterance, start, end in spans:
        inside = tuple(w for w in words if w.start >= start - 1e-3 and w.end <= end + 1e-3)
        out.append(Sentence(index, utterance, inside or (Word("", start, end),)))
    return out


def subtitle_text(cues: Sequence[Cue], fmt: str) -> str:
    """SRT or VTT text of the cues."""
    subs = pysubs2.SSAFile()
    for cue in cues:
        # pysubs2 keeps times in integer milliseconds; "\N" is its line break
        subs.append(
            pysubs2.SSAEvent(
                start=round(cue.start * 1000),
                end=round(cue.end * 1000),
                text=cue.text.replace("\n", r"\N"),
            )
        )
    return subs.to_string(fmt)


# --- text ------------------------------------------------------------------


def _tokens(text: str) -> tuple[list[str], str]:
    """Words and their joiner; text without spaces (Chinese, Japanese) splits per character."""
    words = text.split()
    if len(words) == 1 and len(text) > 12:
        return list(text.strip()), ""
    return words, " "


def _join(words: Sequence[Word]) -> str:
    return join_words(words)  # "Wi-Fi", not "Wi -Fi"


def fits(text: str, limits: SubtitleLimits) -> bool:
    """Whether the text wraps into `max_lines` lines of at most `max_line` characters."""
    lines = wrap(text, limits).split("\n")
    return len(lines) <= limits.max_lines and all(len(line) <= limits.max_line for line in lines)


def wrap(text: str, limits: SubtitleLimits) -> str:
    """At most `max_lines` lines of `max_line` characters when the text allows; two lines are balanced."""
    text = " ".join(text.split()) if " " in text.strip() else text.strip()
    if len(text) <= limits.max_line:
        return text
    tokens, joiner = _tokens(text)
    if limits.max_lines == 2 and len(text) <= limits.max_chars and len(tokens) > 1:
        best = min(range(1, len(tokens)), key=lambda k: _two_line_cost(tokens, joiner, k, limits))
        if _two_line_cost(tokens, joiner, best, limits) < 1000:
            return joiner.join(tokens[:best]) + "\n" + joiner.join(tokens[best:])
    if not joiner:
        return "\n".join(
            text[i : i + limits.max_line] for i in range(0, len(text), limits.max_line)
        )
    return "\n".join(textwrap.wrap(text, width=limits.max_line, break_long_words=True))


def _two_line_cost(tokens: list[str], joiner: str, k: int, limits: SubtitleLimits) -> float:
    first, second = joiner.join(tokens[:k]), joiner.join(tokens[k:])
    cost = float(max(len(first), len(second)))
    if max(len(first), len(second)) > limits.max_line:
        cost += 1000  # only when no split fits
    if tokens[k - 1].endswith(_CLAUSE_END + SENTENCE_END):
        cost -= 4  # a line that ends a clause reads better
    return cost


def split_text(text: str, fractions: Sequence[float], limits: SubtitleLimits | None) -> list[str]:
    """`text` cut at word boundaries nearest the given shares of its length (increasing, in (0, 1));
    with `limits`, more cuts are added until every part fits a cue."""
    tokens, joiner = _tokens(text)
    while True:
        parts = _cut_tokens(tokens, joiner, fractions)
        if limits is None or all(fits(p, limits) for p in parts) or len(parts) >= len(tokens):
            return parts
        n = len(fractions) + 2
        fractions = [k / n for k in range(1, n)]


def _cut_tokens(tokens: list[str], joiner: str, fractions: Sequence[float]) -> list[str]:
    total = len(joiner.join(tokens))
    ends = [len(joiner.join(tokens[: i + 1])) for i in range(len(tokens))]
    cuts: list[int] = []
    for fraction in fractions:
        target = fraction * total
        options = range(cuts[-1] + 1 if cuts else 1, len(tokens))
        if options:
            cuts.append(min(options, key=lambda i: abs(ends[i - 1] - target)))
    bounds = [0, *cuts, len(tokens)]
    return [joiner.join(tokens[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]


# --- timing ----------------------------------------------------------------


def _group_ok(group: Sequence[Word], limits: SubtitleLimits) -> bool:
    if len(group) == 1:
        return True  # a single word always gets a cue, however long
    return (
        group[-1].end - group[0].start <= limits.max_duration
        and all(b.start - a.end < limits.split_pause for a, b in zip(group, group[1:]))
        and len(_join(group)) <= limits.max_chars
        and fits(_join(group), limits)
    )


def _group_cost(group: Sequence[Word], limits: SubtitleLimits) -> float:
    """Fewest cues first; then breaks at punctuation; then cues of even length."""
    fill = min(1.0, len(_join(group)) / limits.max_chars)
    clause = group[-1].word.endswith(_CLAUSE_END + SENTENCE_END)
    return 10.0 + (0.0 if clause else 3.0) + 4.0 * (1.0 - fill) ** 2


def _word_groups(words: Sequence[Word], limits: SubtitleLimits) -> list[list[Word]]:
    """The cheapest split of a sentence's words into cues (dynamic programming over break points)."""
    n = len(words)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(
            j - 1, -1, -1
        ):  # the cue words[i:j]; longer cues only get worse once one fails
            if not _group_ok(words[i:j], limits):
                break
            cost = best[i] + _group_cost(words[i:j], limits)
            if i > 0 and words[i].glued:
                cost += _GLUED_BREAK  # a cue starting "-Fi": only when nothing else fits
            if cost < best[j]:
                best[j], back[j] = cost, i
    groups: list[list[Word]] = []
    j = n
    while j > 0:
        groups.append(list(words[back[j] : j]))
        j = back[j]
    return groups[::-1]


def _slices(words: Sequence[Word], pieces: Sequence[str]) -> list[Sequence[Word]]:
    """Split a sentence's words in as many stretches as pieces, at the pieces' shares of the text."""
    sizes = [len(p) for p in pieces]
    total = sum(sizes) or 1
    fractions = [sum(sizes[: k + 1]) / total for k in range(len(pieces) - 1)]
    spans = _cut_tokens([w.word for w in words], " ", fractions)
    out: list[Sequence[Word]] = []
    i = 0
    for span in spans:
        n = len(span.split())
        out.append(words[i : i + n])
        i += n
    while len(out) < len(pieces):  # more pieces than words: the last pieces share the last word
        out.append(words[-1:])
    return out


def _finish(cues: list[Cue], limits: SubtitleLimits, duration: float) -> list[Cue]:
    """Hold each cue long enough to read, within 1-7 s, never into the next cue or past the audio."""
    out: list[Cue] = []
    for i, cue in enumerate(cues):
        start = max(cue.start, out[-1].end if out else 0.0)
        limit = min(duration, cues[i + 1].start - limits.gap if i + 1 < len(cues) else duration)
        want = max(limits.min_duration, len(cue.text.replace("\n", " ")) / limits.max_cps)
        end = min(max(cue.end, start + want), start + limits.max_duration, limit)
        end = max(end, start)
        out.append(Cue(round(start, 3), round(end, 3), cue.text))
    return out
