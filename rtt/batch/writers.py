"""Output files of `rtt batch`: SRT and VTT (pysubs2), plain text, JSONL events, bilingual SRT.

Every file is written atomically: to a hidden temporary file in the same folder,
flushed to disk, then renamed over the final name, and the folder fsynced so the
new name is durable too. An interrupted run therefore leaves either a whole file
or none (at worst a stray `.<name>.*.tmp`, never taken for an output). Files are
created with the usual permissions (0666 less the umask), not a temporary file's
0600.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.events import to_json
from pipeline.offline import (
    Cue,
    OfflineResult,
    SubtitleLimits,
    bilingual_cues,
    result_events,
    source_cues,
    target_cues,
)
from pipeline.offline.subtitles import subtitle_text
from rtt.durable import fsync_dir, make_dirs

__all__ = [
    "FORMATS",
    "OutputPlan",
    "atomic_write",
    "jsonl_text",
    "subtitle_text",
    "transcript_text",
    "write_outputs",
]

FORMATS = ("srt", "vtt", "jsonl", "txt")


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """Where one input's outputs go and which ones it gets."""

    folder: Path
    stem: str
    formats: tuple[str, ...]
    bilingual: bool

    def paths(self, source_lang: str, targets: Sequence[str]) -> list[Path]:
        langs = list(dict.fromkeys([source_lang, *targets]))
        out = [
            self.folder / f"{self.stem}.{lang}.{ext}"
            for ext in self.formats
            if ext != "jsonl"
            for lang in langs
        ]
        if "jsonl" in self.formats:
            out.append(self.folder / f"{self.stem}.jsonl")
        if self.bilingual:
            out += [
                self.folder / f"{self.stem}.{source_lang}-{t}.srt"
                for t in targets
                if t != source_lang
            ]
        return out


def atomic_write(path: Path, text: str) -> None:
    make_dirs(path.parent)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:  # KeyboardInterrupt included: never leave the temporary behind
        Path(tmp).unlink(missing_ok=True)
        raise


def transcript_text(lines: Sequence[str]) -> str:
    """One sentence per line."""
    kept = [" ".join(line.split()) for line in lines if line.strip()]
    return "".join(f"{line}\n" for line in kept)


def jsonl_text(result: OfflineResult) -> str:
    return "".join(json.dumps(to_json(e), ensure_ascii=False) + "\n" for e in result_events(result))


def write_outputs(result: OfflineResult, plan: OutputPlan, limits: SubtitleLimits) -> list[Path]:
    """Write every planned output; the JSONL goes last."""
    written: list[Path] = []
    texts = {result.language: [s.text for s in result.sentences]}
    for lang, translated in result.translations.items():
        texts.setdefault(lang, list(translated))
    for lang, lines in texts.items():
        cues = _cues(result, lang, limits)
        for ext in plan.formats:
            if ext == "jsonl":
                continue
            path = plan.folder / f"{plan.stem}.{lang}.{ext}"
            atomic_write(path, transcript_text(lines) if ext == "txt" else subtitle_text(cues, ext))
            written.append(path)
    if plan.bilingual:
        for lang, translated in result.translations.items():
            if lang != result.language:
                path = plan.folder / f"{plan.stem}.{result.language}-{lang}.srt"
                atomic_write(
                    path,
                    subtitle_text(
                        bilingual_cues(result.sentences, translated, limits, result.duration), "srt"
                    ),
                )
                written.append(path)
    if "jsonl" in plan.formats:
        path = plan.folder / f"{plan.stem}.jsonl"
        atomic_write(path, jsonl_text(result))
        written.append(path)
    return written


def _cues(result: OfflineResult, lang: str, limits: SubtitleLimits) -> list[Cue]:
    if lang == result.language:
        return source_cues(result.sentences, limits, result.duration)
    return target_cues(result.sentences, result.translations[lang], limits, result.duration)
