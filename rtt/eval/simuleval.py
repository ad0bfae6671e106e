"""Export a run the way the field scores it: SimulEval JSONL, speech segmentation, references.

OmniSTEval (the IWSLT 2026 simultaneous-track scorer) reads, per language pair:
- `instances.log`: one JSON line per recording: `source` (the audio file name), `prediction`
  (the committed target words, space-separated), `delays` (computation-unaware) or `elapsed`
  (computation-aware): one emission time per word in ms from the start of the recording, and
  `source_length` (the recording's length in ms);
- `segments.yaml`: one `{wav, offset, duration}` (seconds) per reference sentence;
- `references.txt` (and `sources.txt`): the reference sentences, one per line, in that order.

The corpus manifest has speech spans per utterance, not per sentence. An utterance is split
into sentences with pysbd on its transcript and on each reference translation; when both give
the same count, sentence k spans from the end of sentence k-1's last word (the utterance start
for the first) to the end of its own last word (the utterance end for the last), with word end
times from the evaluation's reference word times (an offline decode aligned to the reference
words, or the utterance spread). Otherwise the whole utterance is one segment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pysbd

from pipeline.events import PUBLIC_EVENTS, Event, TargetAppend, TargetCommit, from_json
from rtt.corpus import CorpusItem

from .metrics import simple_words

__all__ = [
    "CLOCK_KEYS",
    "Segment",
    "commit_times",
    "committed_words",
    "export_run",
    "hypothesis_line",
    "item_segments",
    "split_sentences",
    "write_pair",
]

# SimulEval's keys: `delays` on a simulated clock, `elapsed` on the real one.
CLOCK_KEYS: dict[str, str] = {"unaware": "delays", "aware": "elapsed"}


@dataclass(frozen=True)
class Segment:
    """One reference sentence: its speech span in seconds of the recording, source and reference."""

    wav: str
    offset: float
    duration: float
    source: str
    reference: str
    split: Literal["sentence", "utterance"]


@cache
def _segmenter(lang: str) -> pysbd.Segmenter:
    try:
        return pysbd.Segmenter(language=lang, clean=False)
    except ValueError:  # no rules for this language: English rules split on punctuation fine
        return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str, lang: str) -> list[str]:
    """The sentences of a text, stripped, without empty ones."""
    return [s.strip() for s in _segmenter(lang).segment(text) if s.strip()]


def item_segments(item: CorpusItem, word_ends: Sequence[float], lang: str) -> list[Segment]:
    """The reference sentences of one item into `lang`, with their speech spans (see the module)."""
    wav = item.audio.name
    segments: list[Segment] = []
    index = 0  # position of the utterance's first word in `word_ends`
    for utt in item.utterances:
        n_words = len(simple_words(utt.text))
        sources = split_sentences(utt.text, utt.lang)
        references = split_sentences(utt.translations[lang], lang)
        counts = [len(simple_words(s)) for s in sources]
        ends = word_ends[index : index + n_words]
        index += n_words
        if len(sources) != len(references) or sum(counts) != n_words or len(ends) != n_words:
            segments.append(
                Segment(
                    wav,
                    utt.start,
                    round(utt.end - utt.start, 3),
                    utt.text,
                    utt.translations[lang],
                    "utterance",
                )
            )
            continue
        start, done = utt.start, 0
        for k, (source, reference, count) in enumerate(zip(sources, references, counts)):
            done += count
            last = k == len(sources) - 1 or count == 0
            end = utt.end if last else min(max(ends[done - 1], start + 0.01), utt.end)
            segments.append(
                Segment(wav, start, round(end - start, 3), source, reference, "sentence")
            )
            start = end
    return segments


def commit_times(
    events: Iterable[Event], lang: str
) -> list[tuple[TargetCommit, list[tuple[str, float]]]]:
    """Each final sentence (`target_commit`) in `lang` with its words, each at the emission
    time of its commit: the `target_append` that carried it, else the `target_commit`."""
    appended: dict[int, list[float]] = {}
    out = []
    for e in events:
        if isinstance(e, TargetAppend) and e.lang == lang:
            times = appended.setdefault(e.sentence, [])
            if e.offset >= len(times):  # a repeat (offset below) is not a new commit
                times += [e.emitted or 0.0] * len(e.text.split())
        elif isinstance(e, TargetCommit) and e.lang == lang:
            times = appended.pop(e.sentence, [])
            final = e.emitted if e.emitted is not None else 0.0
            words = e.text.split()
            out.append(
                (e, [(w, times[i] if i < len(times) else final) for i, w in enumerate(words)])
            )
    return out


def committed_words(events: Iterable[Event], lang: str) -> list[tuple[str, float]]:
    """Every committed target word in `lang`, in order, with the emission time of its commit
    (`commit_times`: an appended word counts when it was appended)."""
    return [word for _, words in commit_times(events, lang) for word in words]


def hypothesis_line(
    item: CorpusItem, events: Iterable[Event], lang: str, clock: str
) -> dict[str, Any]:
    """One SimulEval JSONL instance: the item's committed words and their emission times in ms."""
    words = committed_words(events, lang)
    return {
        "source": item.audio.name,
        "prediction": " ".join(w for w, _ in words),
        CLOCK_KEYS[clock]: [round(t * 1000, 1) for _, t in words],
        "source_length": round(item.duration * 1000, 1),
    }


def _yaml_line(seg: Segment) -> str:
    # Flow style, as OmniSTEval's examples; the file name is quoted as a JSON string (valid YAML).
    return (
        f"- {{wav: {json.dumps(seg.wav)}, offset: {seg.offset:.3f}, duration: {seg.duration:.3f}}}"
    )


def write_pair(
    folder: Path,
    items: Sequence[CorpusItem],
    events: Mapping[str, Sequence[Event]],
    word_ends: Mapping[str, Sequence[float]],
    lang: str,
    clock: str,
) -> dict[str, Any]:
    """Write one run's files for one target language; returns what was written and the doc order."""
    folder.mkdir(parents=True, exist_ok=True)
    segments: list[Segment] = []
    lines: list[str] = []
    for item in items:
        segments += item_segments(item, word_ends[item.id], lang)
        line = hypothesis_line(item, events[item.id], lang, clock)
        lines.append(json.dumps(line, ensure_ascii=False))
    (folder / "instances.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "segments.yaml").write_text(
        "\n".join(_yaml_line(s) for s in segments) + "\n", encoding="utf-8"
    )
    (folder / "references.txt").write_text(
        "".join(s.reference + "\n" for s in segments), encoding="utf-8"
    )
    (folder / "sources.txt").write_text(
        "".join(s.source + "\n" for s in segments), encoding="utf-8"
    )
    return {
        "folder": str(folder),
        "items": [item.id for item in items],
        "segments": len(segments),
        "utterance_segments": sum(s.split == "utterance" for s in segments),
        "clock_key": CLOCK_KEYS[clock],
    }


def export_run(
    run: Mapping[str, Any],
    items: Mapping[str, CorpusItem],
    word_ends: Mapping[str, Sequence[float]],
    folder: Path,
) -> dict[str, dict[str, Any]]:
    """Write a finished run's files, one folder per language pair (`<folder>/<src>-<tgt>/`).

    `run` is a run of results.json with its `events` (JSON objects) still attached.
    """
    pairs: dict[str, list[CorpusItem]] = {}
    for item_id, score in run["items"].items():
        for lang in score["targets"]:
            pairs.setdefault(f"{score['lang']}-{lang}", []).append(items[item_id])
    events = {
        item_id: [from_json(e) for e in raw if e.get("type") in PUBLIC_EVENTS]
        for item_id, raw in run["events"].items()
    }
    return {
        pair: write_pair(
            folder / pair, chosen, events, word_ends, pair.split("-", 1)[1], run["mode"]
        )
        for pair, chosen in sorted(pairs.items())
    }
