"""Score one recorded run of one corpus item (definitions: docs/metrics.md).

Input: the item's references, the events the pipeline emitted (with their
`emitted` stamps) and the end time of every reference word. Output: a plain dict
of numbers and the raw per-word / per-utterance values the overall summary pools.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pipeline.events import (
    Error,
    Event,
    SourceCommit,
    SourcePartial,
    TargetAppend,
    TargetCommit,
    TargetPartial,
    Word,
)
from pipeline.words import join_words
from rtt.corpus import CorpusItem, Utterance

from .langid import language_id
from .metrics import (
    average_lagging,
    bleu,
    chrf,
    length_adaptive_average_lagging,
    match_words,
    normalized_erasure,
    simple_words,
    word_errors,
)
from .simuleval import commit_times

__all__ = [
    "display_tokens",
    "source_erasure",
    "source_final_delays",
    "source_parts",
    "score_item",
    "target_delays",
    "utterance_of",
    "word_ends_from_utterances",
]


def word_ends_from_utterances(item: CorpusItem) -> list[float]:
    """Reference word ends spread over each utterance in proportion to word length (fallback)."""
    ends: list[float] = []
    for utt in item.utterances:
        words = simple_words(utt.text)
        total = sum(len(w) for w in words) or 1
        done = 0
        for w in words:
            done += len(w)
            ends.append(round(utt.start + (utt.end - utt.start) * done / total, 3))
    return ends


_EDGE_PUNCTUATION = ".,;:!?¡¿\"'«»“”„()…-–—"


def display_tokens(text: str) -> list[str]:
    """Words as shown, without the punctuation at their edges: a period that moves to the
    next word is not an erased word (erasure counts words a reader saw taken back)."""
    return [t for t in (w.strip(_EDGE_PUNCTUATION) for w in text.split()) if t]


def utterance_of(utterances: Sequence[Utterance], t: float) -> int:
    """The reference utterance a source time belongs to: the last one started by then."""
    starts = [u.start for u in utterances]
    return max(0, bisect.bisect_right(starts, t) - 1)


def commit_latencies(
    item: CorpusItem, events: Sequence[Event], word_ends: Sequence[float]
) -> list[float]:
    """Per aligned reference word: emission of the committed word minus the word's end."""
    hyp: list[tuple[str, float]] = []
    for e in events:
        if isinstance(e, SourceCommit):
            hyp += [(tok, e.emitted) for w in e.words for tok in simple_words(w.word)]
    ref = simple_words(item.transcript)
    pairs = match_words(ref, [tok for tok, _ in hyp])
    return [round(hyp[j][1] - word_ends[i], 3) for i, j in pairs if i < len(word_ends)]


def source_parts(item: CorpusItem, events: Sequence[Event]) -> dict[str, tuple[int, int]]:
    """Per language spoken: (word errors, reference words) of its utterances, each against the
    committed words heard during them (a word goes to the utterance of its midpoint) and
    normalised as its own language; one part for an item in one language."""
    if len(item.languages) == 1:
        hypothesis = " ".join(e.text for e in events if isinstance(e, SourceCommit))
        return {item.lang: word_errors(item.transcript, hypothesis, item.lang)}
    refs: dict[str, list[str]] = defaultdict(list)
    heard: dict[str, list[Word]] = defaultdict(list)
    for utt in item.utterances:
        refs[utt.lang].append(utt.text)
    for e in events:
        for w in e.words if isinstance(e, SourceCommit) else ():
            heard[
                item.utterances[utterance_of(item.utterances, (w.start + w.end) / 2)].lang
            ].append(w)
    return {
        lang: word_errors(" ".join(refs[lang]), join_words(heard[lang]), lang)
        for lang in item.languages
    }


def source_final_delays(item: CorpusItem, events: Sequence[Event]) -> list[float]:
    """Per reference utterance: end of its speech to the commit of its last source word."""
    last: dict[int, float] = {}
    for e in events:
        if isinstance(e, SourceCommit) and e.words:
            u = utterance_of(item.utterances, e.words[-1].end)
            last[u] = max(last.get(u, e.emitted), e.emitted)
    return [round(last[u] - utt.end, 3) for u, utt in enumerate(item.utterances) if u in last]


def source_erasure(events: Sequence[Event]) -> tuple[int, int]:
    """Source tokens erased from the display (committed words + partial tail) per utterance.

    Events of one ASR pass share a stamp; the display is sampled once per stamp, so
    the moment between a commit and the partial that follows it is not a display.
    """
    displays: dict[int, list[tuple[float | None, list[str]]]] = defaultdict(list)
    committed: dict[int, list[str]] = defaultdict(list)
    partial: dict[int, list[str]] = defaultdict(list)
    for e in events:
        if isinstance(e, SourceCommit):
            new = display_tokens(e.text)
            tail = partial[e.utterance]
            # The partial that held these words is superseded in the same ASR pass.
            partial[e.utterance] = tail[len(new) :] if tail[: len(new)] == new else tail
            committed[e.utterance] += new
        elif isinstance(e, SourcePartial):
            partial[e.utterance] = display_tokens(e.text)
        else:
            continue
        shown = displays[e.utterance]
        if shown and shown[-1][0] == e.emitted:
            shown.pop()
        shown.append((e.emitted, committed[e.utterance] + partial[e.utterance]))
    for (
        u,
        shown,
    ) in displays.items():  # what stays is the committed text; a leftover partial is taken back
        shown.append((None, committed[u]))
    totals = [normalized_erasure([tokens for _, tokens in d]) for d in displays.values()]
    return sum(t[0] for t in totals), sum(t[1] for t in totals)


def _sentence_displays(
    events: Sequence[Event], lang: str
) -> dict[int, list[tuple[float, list[str], bool]]]:
    """(emitted, tokens, is_commit) per target sentence, in order. A reader shows the
    appended (committed) words, then the partial's words after them."""
    out: dict[int, list[tuple[float, list[str], bool]]] = defaultdict(list)
    appended: dict[int, list[str]] = defaultdict(list)
    words: dict[int, int] = defaultdict(int)  # words appended per sentence (offsets count them)
    for e in events:
        if getattr(e, "lang", None) != lang:
            continue
        if isinstance(e, TargetAppend):
            if e.offset < words[e.sentence]:  # a repeat: nothing new
                continue
            words[e.sentence] += len(e.text.split())
            appended[e.sentence] += display_tokens(e.text)
            shown = out[e.sentence][-1][1] if out[e.sentence] else []
        elif isinstance(e, TargetPartial):
            shown = display_tokens(e.text)
        elif isinstance(e, TargetCommit):
            out[e.sentence].append((e.emitted, display_tokens(e.text), True))
            continue
        else:
            continue
        committed = appended[e.sentence]
        out[e.sentence].append((e.emitted, committed + shown[len(committed) :], False))
    return out


def _first_appearance(
    displays: list[tuple[float, list[str], bool]], final: list[str]
) -> list[float]:
    """Per final word: since when the display showed it (and everything before it) unchanged."""
    times = []
    for j in range(len(final)):
        k = len(displays) - 1
        while k > 0 and displays[k - 1][1][: j + 1] == final[: j + 1]:
            k -= 1
        times.append(displays[k][0])
    return times


def target_delays(
    item: CorpusItem, events: Sequence[Event], lang: str
) -> dict[int, dict[str, list[float]]]:
    """Per reference utterance: the emission time of each target word (commit and first appearance)."""
    per_utt: dict[int, dict[str, list[float]]] = defaultdict(lambda: {"commit": [], "first": []})
    displays = _sentence_displays(events, lang)
    for e, timed in commit_times(events, lang):  # a word counts when it was committed
        u = utterance_of(item.utterances, e.end)
        words = display_tokens(e.text)
        per_utt[u]["commit"] += [t for w, t in timed if display_tokens(w)]
        per_utt[u]["first"] += _first_appearance(displays[e.sentence], words)
    return per_utt


def _lagging(
    item: CorpusItem, lang: str, per_utt: dict[int, dict[str, list[float]]]
) -> dict[str, list[float]]:
    """AL, LAAL, offsets and time-to-final per reference utterance (delays from its start)."""
    out: dict[str, list[float]] = defaultdict(list)
    for u, utt in enumerate(item.utterances):
        source = utt.end - utt.start
        ref_len = len(utt.translations[lang].split()) if lang in utt.translations else 0
        times = per_utt.get(u)
        if not times or not times["commit"]:
            out["missing_utterances"].append(u)
            continue
        delays = [t - utt.start for t in times["commit"]]
        first = [t - utt.start for t in times["first"]]
        for key, value in (
            ("al", average_lagging(delays, source, ref_len)),
            ("laal", length_adaptive_average_lagging(delays, source, ref_len)),
            ("laal_first_appearance", length_adaptive_average_lagging(first, source, ref_len)),
        ):
            if value is not None:
                out[key].append(value)
        out["start_offset"].append(round(delays[0], 3))
        out["end_offset"].append(round(delays[-1] - source, 3))
        out["time_to_final"].append(round(max(times["commit"]) - utt.end, 3))
    return out


def _revisions(displays: dict[int, list[tuple[float, list[str], bool]]]) -> int:
    """How often a shown partial changed before its sentence was committed."""
    return sum(
        sum(1 for a, b in zip(shown, shown[1:]) if a[1] != b[1]) for shown in displays.values()
    )


def _target_scores(item: CorpusItem, events: Sequence[Event], lang: str) -> dict[str, Any]:
    commits = [e for e in events if isinstance(e, TargetCommit) and e.lang == lang]
    hypothesis = " ".join(e.text for e in commits)
    reference = item.translations[lang]
    displays = _sentence_displays(events, lang)
    erasure = [normalized_erasure([d[1] for d in shown]) for shown in displays.values()]
    erased, final = sum(e for e, _ in erasure), sum(n for _, n in erasure)
    return {
        "hypothesis": hypothesis,
        "bleu": bleu(reference, hypothesis, lang),
        "chrf": chrf(reference, hypothesis),
        "erased": erased,
        "final_tokens": final,
        "normalized_erasure": round(erased / final, 4) if final else None,
        "revisions": _revisions(displays),
        "sentences": len(displays),
        "values": dict(_lagging(item, lang, target_delays(item, events, lang))),
    }


def score_item(
    item: CorpusItem, events: Sequence[Event], word_ends: Sequence[float], targets: Sequence[str]
) -> dict[str, Any]:
    """Every per-item figure; lists under `values` are pooled across items by the summary."""
    hypothesis = " ".join(e.text for e in events if isinstance(e, SourceCommit))
    parts = source_parts(item, events)
    errors, words = sum(e for e, _ in parts.values()), sum(n for _, n in parts.values())
    erased, final = source_erasure(events)
    return {
        "lang": "+".join(item.languages),  # "en+de": an item that switches language
        "hypothesis": hypothesis,
        "word_errors": errors,
        "reference_words": words,
        "wer": round(errors / words, 4) if words else None,
        "parts": {lang: list(counts) for lang, counts in parts.items()},
        "source_erased": erased,
        "source_final_tokens": final,
        "source_normalized_erasure": round(erased / final, 4) if final else None,
        "values": {
            "commit_latency": commit_latencies(item, events, word_ends),
            "source_final": source_final_delays(item, events),
        },
        "targets": {lang: _target_scores(item, events, lang) for lang in targets},
        "errors": [e.message for e in events if isinstance(e, Error)],
        "language_id": language_id(item, events),
    }
