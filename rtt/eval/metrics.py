"""Pure metric functions for streaming translation (definitions: docs/metrics.md).

Nothing here runs a model or reads a clock: every function takes texts, times and
counts and returns numbers, so each one is checked against hand-worked examples.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import cache

from pipeline.mt.drafts import common_prefix
from pipeline.observers import percentiles

__all__ = [
    "average_lagging",
    "bleu",
    "chrf",
    "common_prefix",
    "length_adaptive_average_lagging",
    "match_words",
    "normalize",
    "normalized_erasure",
    "percentiles",
    "simple_words",
    "word_error_rate",
    "word_errors",
]

_WORD = re.compile(r"\w+(?:['’]\w+)*")


@cache
def _normalizer(lang: str):
    """whisper-normalizer's English normaliser for en (numbers to digits), the basic one otherwise."""
    from whisper_normalizer.basic import BasicTextNormalizer
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer() if lang == "en" else BasicTextNormalizer()


def normalize(text: str, lang: str) -> str:
    """The text as WER sees it: lower case, no punctuation, English numbers as digits."""
    return " ".join(_normalizer(lang)(text).split())


def word_errors(reference: str, hypothesis: str, lang: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words) after normalising both sides."""
    import jiwer

    ref, hyp = normalize(reference, lang), normalize(hypothesis, lang)
    if not ref:
        return len(hyp.split()), 0
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def word_error_rate(
    references: Sequence[str], hypotheses: Sequence[str], lang: str
) -> float | None:
    """Corpus WER: all errors over all reference words (None without reference words)."""
    counts = [word_errors(r, h, lang) for r, h in zip(references, hypotheses)]
    words = sum(n for _, n in counts)
    return round(sum(e for e, _ in counts) / words, 4) if words else None


def bleu(reference: str, hypothesis: str, lang: str) -> float:
    """Document-level BLEU: one hypothesis document against one reference document."""
    import sacrebleu

    tokenize = "zh" if lang == "zh" else "ja-mecab" if lang == "ja" else "13a"
    return round(sacrebleu.corpus_bleu([hypothesis], [[reference]], tokenize=tokenize).score, 2)


def chrf(reference: str, hypothesis: str) -> float:
    """Document-level chrF (character n-gram F-score, sacrebleu's defaults)."""
    import sacrebleu

    return round(sacrebleu.corpus_chrf([hypothesis], [[reference]]).score, 2)


def _lagging(delays: Sequence[float], source_duration: float, target_length: int) -> float | None:
    """SimulEval's AL loop; `target_length` is |Y| (reference for AL, max(ref, hyp) for LAAL)."""
    if not delays or source_duration <= 0 or target_length <= 0:
        return None
    if delays[0] > source_duration:
        return round(delays[0], 4)
    rate = source_duration / target_length  # seconds of source per ideal target word
    total, tau = 0.0, 0
    for index, delay in enumerate(delays):
        total += delay - index * rate
        tau = index + 1
        if delay >= source_duration:  # the first word emitted after the whole source was read
            break
    return round(total / tau, 4)


def average_lagging(
    delays: Sequence[float], source_duration: float, reference_length: int
) -> float | None:
    """AL in seconds; `delays` per target word, measured from the start of the source."""
    return _lagging(delays, source_duration, reference_length)


def length_adaptive_average_lagging(
    delays: Sequence[float], source_duration: float, reference_length: int
) -> float | None:
    """LAAL: AL with |Y| = max(reference, hypothesis), so over-long output is not rewarded."""
    return _lagging(delays, source_duration, max(reference_length, len(delays)))


def normalized_erasure(displays: Sequence[Sequence[str]]) -> tuple[int, int]:
    """Tokens erased over a sequence of displays of one text, and the final length.

    Each display replaces the previous one; whatever follows their common prefix in
    the old display was erased. NE = erased / final length (summed over texts).
    """
    erased = 0
    previous: Sequence[str] = ()
    for display in displays:
        erased += len(previous) - common_prefix(previous, display)
        previous = display
    return erased, len(previous)


def simple_words(text: str) -> list[str]:
    """Lower-case word tokens without punctuation, for aligning words across texts."""
    return _WORD.findall(text.lower())


def match_words(reference: Sequence[str], hypothesis: Sequence[str]) -> list[tuple[int, int]]:
    """(reference index, hypothesis index) of words aligned as equal or substituted.

    difflib's matching blocks give the equal words; inside a replaced span of equal
    length on both sides the words pair up one to one (substitutions).
    """
    pairs: list[tuple[int, int]] = []
    matcher = difflib.SequenceMatcher(a=list(reference), b=list(hypothesis), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pairs.extend(zip(range(i1, i2), range(j1, j2)))
    return pairs
