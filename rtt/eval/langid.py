"""Language identification figures of a run: was the detected language right, and how soon.

Only settings that leave the language to `auto` (the harness pins each item's
language otherwise) say anything here; a pinned run reports `detected: null`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from pipeline.events import Event, SourceCommit, SourcePartial
from rtt.corpus import CorpusItem

__all__ = ["language_id", "language_parts", "language_summary", "leaves_language_auto"]


def leaves_language_auto(overrides: dict[str, Any]) -> bool:
    """A setting asks for detection with `asr = { language = "auto" }` or `"auto:en,de"`."""
    language = overrides.get("asr", {}).get("language")
    return isinstance(language, str) and language.strip().lower().startswith("auto")


def language_id(item: CorpusItem, events: Sequence[Event]) -> dict[str, Any]:
    """The first committed language, its probability, whether it is the item's, the seconds from
    the first utterance's start to the first source event with a language (decide) and to the
    first commit, and the share of commits in the item's language."""
    speech = item.utterances[0].start if item.utterances else 0.0
    commits = [e for e in events if isinstance(e, SourceCommit)]
    known = [e for e in events if isinstance(e, (SourcePartial, SourceCommit)) and e.lang != "und"]
    if not commits or commits[0].language_probability is None:
        return {"detected": None}
    first = commits[0]
    return {
        "detected": first.lang,
        "probability": first.language_probability,
        "correct": first.lang == item.lang,
        "decide_s": _since(known[0].emitted, speech) if known else None,
        "first_commit_s": _since(first.emitted, speech),
        "commits_in_lang": round(sum(c.lang == item.lang for c in commits) / len(commits), 3),
        **({"parts": language_parts(item, events)} if len(item.languages) > 1 else {}),
    }


def language_parts(item: CorpusItem, events: Sequence[Event]) -> list[dict[str, Any]]:
    """For an item that switches language, per stretch of utterances in one language: its
    start, the seconds from it to the first source event in its language (`follow_s`: how soon
    the switch was followed) and the share of its commits (by the time of their words) in it."""
    from .scoring import utterance_of  # scoring imports this module

    stretches: list[dict[str, Any]] = []
    part_of: list[int] = []  # utterance -> stretch
    for utt in item.utterances:
        if not stretches or stretches[-1]["lang"] != utt.lang:
            stretches.append({"lang": utt.lang, "start": utt.start, "commits": []})
        part_of.append(len(stretches) - 1)
    for e in events:
        if isinstance(e, SourceCommit) and e.words:
            utt = utterance_of(item.utterances, (e.start + e.end) / 2)
            stretches[part_of[utt]]["commits"].append(e.lang)
    out = []
    for part in stretches:
        lang, start, commits = part["lang"], part["start"], part["commits"]
        follow = [
            e.emitted
            for e in events
            if isinstance(e, (SourcePartial, SourceCommit))
            and e.lang == lang
            and e.emitted is not None
            and e.emitted >= start
        ]
        share = round(commits.count(lang) / len(commits), 3) if commits else None
        out.append(
            {
                "lang": lang,
                "start": start,
                "follow_s": _since(follow[0], start) if follow else None,
                "commits_in_lang": share,
            }
        )
    return out


def language_summary(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Accuracy over the items where the language was detected, and the p50 time to decide."""
    detected = [
        s["language_id"] for s in scores.values() if s.get("language_id", {}).get("detected")
    ]
    if not detected:
        return {}
    decide = [d["decide_s"] for d in detected if d["decide_s"] is not None]
    return {
        "lid_accuracy": round(sum(d["correct"] for d in detected) / len(detected), 3),
        "lid_decide_p50": round(statistics.median(decide), 2) if decide else None,
    }


def _since(emitted: float | None, speech: float) -> float | None:
    return None if emitted is None else round(emitted - speech, 2)
