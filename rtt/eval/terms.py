"""Terminology and register figures of one item (issue 18), glossary or not.

Counted at document level against the item's glossary (its manifest names the file),
whether or not the setting gave the glossary to the translator, so "with" and
"without" compare on the same terms:

- source term recall: occurrences of each term's source form in the committed
  transcript, capped by those in the reference transcript, over the reference's;
- target term accuracy: per target language, occurrences of each agreed translation
  in the committed translation, capped by the source term's occurrences in the
  reference transcript, over those (a name kept as it is counts the same way).

Register (German): sentences of the committed translation that address someone
informally (du, dich, dir, dein…, euch, euer…) or formally (Sie/Ihnen/Ihr… written
with a capital inside a sentence). In a talk set to formal, the informal ones are the
register switches.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from pipeline.config import PipelineConfig
from pipeline.events import Event, SourceCommit, TargetCommit
from pipeline.glossary import Glossary, load_glossary, term_count
from pipeline.mt.guide import FORMAL_DE, INFORMAL_DE
from rtt.corpus import CorpusItem

__all__ = ["item_terms", "register_counts", "term_scores", "term_summary", "with_glossary"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def register_counts(text: str) -> dict[str, int]:
    """German sentences addressing someone informally / formally."""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s]
    return {
        "sentences": len(sentences),
        "informal": sum(bool(INFORMAL_DE.search(s)) for s in sentences),
        "formal": sum(bool(FORMAL_DE.search(s)) for s in sentences),
    }


def _recall(pairs: Sequence[tuple[int, int]]) -> dict[str, Any]:
    expected = sum(e for e, _ in pairs)
    hit = sum(min(e, g) for e, g in pairs)
    return {
        "hit": hit,
        "expected": expected,
        "rate": round(hit / expected, 4) if expected else None,
    }


def term_scores(
    glossary: Glossary | None,
    source_lang: str,
    transcript: str,
    events: Sequence[Event],
    targets: Sequence[str],
) -> dict[str, Any]:
    """The term and register figures of one run; terms only with a glossary."""
    out: dict[str, Any] = {}
    finals = {
        lang: " ".join(e.text for e in events if isinstance(e, TargetCommit) and e.lang == lang)
        for lang in targets
    }
    if "de" in finals:
        out["register_de"] = register_counts(finals["de"])
    if glossary is None:
        return out
    terms = [t for t in glossary.terms if t.form(source_lang)]
    expected = [term_count(t.form(source_lang) or "", transcript) for t in terms]
    heard = " ".join(e.text for e in events if isinstance(e, SourceCommit))
    out["source_terms"] = _recall(
        [(e, term_count(t.form(source_lang) or "", heard)) for t, e in zip(terms, expected)]
    )
    out["target_terms"] = {}
    for lang, text in finals.items():
        pairs = [
            (e, term_count(t.target(source_lang, lang) or "", text))
            for t, e in zip(terms, expected)
        ]
        out["target_terms"][lang] = _recall(pairs)
    missed = {
        lang: [
            t.target(source_lang, lang)
            for t, e in zip(terms, expected)
            if e and term_count(t.target(source_lang, lang) or "", finals[lang]) < e
        ]
        for lang in finals
    }
    out["missed_terms"] = missed
    return out


def with_glossary(config: PipelineConfig, spec: str | None, item: CorpusItem) -> PipelineConfig:
    """A setting's config for one item: `glossary = "item"` gives it the item's own."""
    if spec is None:
        return config
    if spec == "item":
        glossary = load_glossary(item.glossary) if item.glossary is not None else None
    else:
        glossary = load_glossary(spec)
    return dataclasses.replace(config, glossary=glossary)


def item_terms(item: CorpusItem, events: Sequence[Event], targets: Sequence[str]) -> dict[str, Any]:
    """`term_scores` against the item's own glossary (whatever the setting gave the translator)."""
    glossary = load_glossary(item.glossary) if item.glossary is not None else None
    return term_scores(glossary, item.lang, item.transcript, events, targets)


def term_summary(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Pooled over the items that have a glossary: term figures, and German register."""
    source, target, register = [0, 0], {}, [0, 0, 0]
    for score in scores.values():
        terms = score.get("terms", {})
        if "source_terms" in terms:
            source[0] += terms["source_terms"]["hit"]
            source[1] += terms["source_terms"]["expected"]
        for lang, figures in terms.get("target_terms", {}).items():
            pooled = target.setdefault(f"{score['lang']}-{lang}", [0, 0])
            pooled[0] += figures["hit"]
            pooled[1] += figures["expected"]
        counts = terms.get("register_de")
        if counts:
            register[0] += counts["informal"]
            register[1] += counts["formal"]
            register[2] += counts["sentences"]
    out: dict[str, Any] = {}
    if source[1]:
        out["source_term_recall"] = round(source[0] / source[1], 4)
    if target:
        out["target_term_accuracy"] = {
            p: round(h / e, 4) if e else None for p, (h, e) in sorted(target.items())
        }
    if register[2]:
        out["register_de"] = dict(zip(("informal", "formal", "sentences"), register))
    return out
