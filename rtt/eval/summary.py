"""Pool per-item scores of one setting and clock into its overall figures.

Quality is scored per language pair at document level (items concatenated in
corpus order); latency values are pooled over all words / utterances; erasure is
summed before dividing; RTF is compute seconds over audio seconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import mean
from typing import Any

from .harness import ItemRun
from .langid import language_summary
from .metrics import bleu, chrf, percentiles
from .terms import term_summary

__all__ = ["summarize"]


def _mean(values: Sequence[float]) -> float | None:
    return round(mean(values), 3) if values else None


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _quality(
    scores: dict[str, dict[str, Any]], references: dict[str, dict[str, str]]
) -> dict[str, Any]:
    docs: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for item_id, score in scores.items():
        for lang, target in score["targets"].items():
            refs, hyps = docs[f"{score['lang']}-{lang}"]
            refs.append(references[item_id][lang])
            hyps.append(target["hypothesis"])
    pairs = sorted(docs)
    bleus = {p: bleu(" ".join(docs[p][0]), " ".join(docs[p][1]), p.split("-")[1]) for p in pairs}
    chrfs = {p: chrf(" ".join(docs[p][0]), " ".join(docs[p][1])) for p in pairs}
    return {
        "bleu": bleus,
        "chrf": chrfs,
        "bleu_mean": _mean(list(bleus.values())),
        "chrf_mean": _mean(list(chrfs.values())),
    }


def _source(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in scores.values():  # an item that switches language counts each part in its own
        parts = s.get("parts") or {s["lang"]: (s["word_errors"], s["reference_words"])}
        for lang, (errors, words) in parts.items():
            by_lang[lang][0] += errors
            by_lang[lang][1] += words
    errors = sum(e for e, _ in by_lang.values())
    words = sum(n for _, n in by_lang.values())
    return {
        "wer": _ratio(errors, words),
        "wer_by_lang": {lang: _ratio(e, n) for lang, (e, n) in sorted(by_lang.items())},
        "commit_latency": percentiles(
            [v for s in scores.values() for v in s["values"]["commit_latency"]]
        ),
        # speech end -> last source word committed: the ASR share of time to final
        "source_final": percentiles(
            [v for s in scores.values() for v in s["values"]["source_final"]]
        ),
        "source_final_mean": _mean(
            [v for s in scores.values() for v in s["values"]["source_final"]]
        ),
        "source_normalized_erasure": _ratio(
            sum(s["source_erased"] for s in scores.values()),
            sum(s["source_final_tokens"] for s in scores.values()),
        ),
    }


def _latency(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pooled: dict[str, list[float]] = defaultdict(list)
    erased = final = revisions = sentences = 0
    for s in scores.values():
        for target in s["targets"].values():
            for key, values in target["values"].items():
                pooled[key] += values
            erased += target["erased"]
            final += target["final_tokens"]
            revisions += target["revisions"]
            sentences += target["sentences"]
    out: dict[str, Any] = {
        key: _mean(pooled[key])
        for key in ("al", "laal", "laal_first_appearance", "start_offset", "end_offset")
    }
    out["time_to_final"] = percentiles(pooled["time_to_final"])
    out["time_to_final_mean"] = _mean(pooled["time_to_final"])
    out["missing_utterances"] = len(pooled["missing_utterances"])
    out["target_normalized_erasure"] = _ratio(erased, final)
    out["revisions"] = revisions
    out["revisions_per_sentence"] = _ratio(revisions, sentences)
    return out


def _speed(runs: Sequence[ItemRun]) -> dict[str, Any]:
    audio = sum(r.audio_s for r in runs)
    stages: dict[str, float] = defaultdict(float)
    for r in runs:
        for stage, busy in r.busy.items():
            stages[stage] += busy
    rtf = {stage: _ratio(busy, audio) for stage, busy in stages.items()}
    rtf["all_stages"] = _ratio(sum(stages.values()), audio)
    rtf["wall"] = _ratio(sum(r.wall_s for r in runs), audio)
    return {"audio_s": round(audio, 2), "rtf": rtf}


def summarize(
    scores: dict[str, dict[str, Any]],
    runs: Sequence[ItemRun],
    references: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """Overall figures of one setting under one clock."""
    return {
        "items": len(scores),
        "errors": sum(len(s["errors"]) for s in scores.values()),
        **_speed(runs),
        **_source(scores),
        **_quality(scores, references),
        **_latency(scores),
        **language_summary(scores),
        **term_summary(scores),
    }
