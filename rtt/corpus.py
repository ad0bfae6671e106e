"""Loader for the sample audio corpus in audio_samples/ (see its README.md).

The manifest holds, per item, the audio file, the reference transcript, hand-written
reference translations and the speech span of every utterance in stream time. An
utterance may name its own `lang` (a question in German during an English talk);
it is spoken in the item's `lang` otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MANIFEST",
    "CorpusItem",
    "Utterance",
    "corpus_item",
    "load_corpus",
]

# Located from this file, so it works from an editable install or a checkout, not a wheel.
DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent / "audio_samples" / "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Utterance:
    """One utterance; start/end are the speech boundaries in seconds of stream time."""

    start: float
    end: float
    text: str
    translations: Mapping[str, str]
    lang: str = ""  # the language it is spoken in (the loader fills in the item's)


@dataclass(frozen=True)
class CorpusItem:
    """One audio file with its reference texts; `audio` is an absolute path."""

    id: str
    audio: Path
    lang: str
    duration: float
    style: str
    transcript: str
    translations: Mapping[str, str]
    utterances: tuple[Utterance, ...]
    provenance: Mapping[str, Any]
    licence: Mapping[str, Any]
    glossary: Path | None = None  # the item's terminology (CSV), for term accuracy

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages spoken, in the order they are first heard (the item's first)."""
        return tuple(dict.fromkeys((self.lang, *(u.lang for u in self.utterances))))


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Fetch a required field of a given type, or say exactly what is wrong."""
    if not isinstance(obj, Mapping) or key not in obj:
        raise ValueError(f"{where}: missing field {key!r}")
    value = obj[key]
    # bool is an int subclass: a true/false time is a typo, not a number.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _texts(obj: Mapping[str, Any], where: str) -> dict[str, str]:
    """A {language: text} mapping of non-empty strings."""
    texts = _field(obj, "translations", dict, where)
    if not texts or not all(isinstance(v, str) and v.strip() for v in texts.values()):
        raise ValueError(f"{where}: translations must map languages to non-empty text")
    return dict(texts)


def _utterance(raw: Any, where: str, lang: str) -> Utterance:
    start = float(_field(raw, "start", (int, float), where))
    end = float(_field(raw, "end", (int, float), where))
    if not 0 <= start < end:
        raise ValueError(f"{where}: needs 0 <= start < end, got {start}..{end}")
    if "lang" in raw:
        lang = _field(raw, "lang", str, where)
    return Utterance(start, end, _field(raw, "text", str, where), _texts(raw, where), lang)


def _item(raw: Any, base: Path, index: int) -> CorpusItem:
    where = f"item {index} ({raw.get('id', '?') if isinstance(raw, Mapping) else '?'})"
    lang = _field(raw, "lang", str, where)
    utterances = tuple(
        _utterance(u, f"{where} utterance {i}", lang)
        for i, u in enumerate(_field(raw, "utterances", list, where))
    )
    return CorpusItem(
        id=_field(raw, "id", str, where),
        audio=(base / _field(raw, "audio", str, where)).resolve(),
        lang=lang,
        duration=float(_field(raw, "duration", (int, float), where)),
        style=_field(raw, "style", str, where),
        transcript=_field(raw, "transcript", str, where),
        translations=_texts(raw, where),
        utterances=utterances,
        provenance=_field(raw, "provenance", dict, where),
        licence=_field(raw, "licence", dict, where),
        glossary=(base / raw["glossary"]).resolve()
        if isinstance(raw.get("glossary"), str)
        else None,
    )


def load_corpus(path: Path | None = None) -> list[CorpusItem]:
    """Read a manifest (default: the repository's audio_samples/manifest.json).

    Raises ValueError when the manifest is not valid JSON or lacks a required field.
    """
    path = Path(path) if path is not None else DEFAULT_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"{path}: expected an object with version {MANIFEST_VERSION}")
    items = [
        _item(raw, path.parent, i) for i, raw in enumerate(_field(data, "items", list, str(path)))
    ]
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate item ids")
    return items


def corpus_item(item_id: str, path: Path | None = None) -> CorpusItem:
    """The item with this id; KeyError names the ids that exist."""
    items = {item.id: item for item in load_corpus(path)}
    if item_id not in items:
        raise KeyError(f"no corpus item {item_id!r}; known: {', '.join(sorted(items))}")
    return items[item_id]
