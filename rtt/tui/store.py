"""A file-backed store of everything committed in a live session.

Widgets keep only a bounded window of recent text; the whole session goes to an
append-only JSON-lines file here, so memory stays flat over hours and saving
reads the file back. Each line is one committed piece:
`{"lang", "kind": "source"|"target", "utterance", "sentence", "start", "end", "text"}`
(times in seconds of the session's stream). Saving writes, per language, an SRT
file (source: words grouped into cues; targets: one cue per sentence) and a
plain TXT file (one paragraph per utterance).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pysubs2

__all__ = ["Piece", "TranscriptStore", "cues"]

MAX_CUE_SECONDS = 6.0  # a source subtitle stays readable
MAX_CUE_CHARS = 84  # two lines of 42
_SENTENCE_END = (".", "?", "!", "。", "？", "！")


@dataclass(frozen=True, slots=True)
class Piece:
    """One committed piece of text: source words, or a target sentence."""

    lang: str
    kind: str  # "source" or "target"
    utterance: int
    sentence: int  # target sentence index; 0 for source pieces
    start: float
    end: float
    text: str


def cues(pieces: list[Piece]) -> pysubs2.SSAFile:
    """Subtitles for one language: target sentences as they are, source words grouped."""
    groups: list[list[Piece]] = []
    for piece in pieces:
        current = groups[-1] if groups else None
        if current is None or piece.kind == "target" or _closes(current, piece):
            groups.append([piece])
        else:
            current.append(piece)
    subtitles = pysubs2.SSAFile()
    for group in groups:
        start, end = group[0].start, max(group[-1].end, group[0].start + 0.5)
        text = " ".join(p.text.strip() for p in group if p.text.strip())
        subtitles.append(
            pysubs2.SSAEvent(
                start=pysubs2.make_time(s=start), end=pysubs2.make_time(s=end), text=text
            )
        )
    return subtitles


def _closes(group: list[Piece], piece: Piece) -> bool:
    """Start a new source cue: new utterance, finished sentence, or a cue that is full."""
    last = group[-1]
    text = " ".join(p.text for p in group)
    return (
        last.kind == "target"
        or piece.utterance != last.utterance
        or last.text.rstrip().endswith(_SENTENCE_END)
        or piece.end - group[0].start > MAX_CUE_SECONDS
        or len(text) + len(piece.text) > MAX_CUE_CHARS
    )


class TranscriptStore:
    """Append-only JSON lines on disk; a temporary file unless a path is given."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="rtt-live-")
            path = Path(self._tmp.name) / "session.jsonl"
        else:
            self._tmp = None
        self.path = Path(path)
        self._file = self.path.open("a", encoding="utf-8")
        self.count = 0

    def add(self, piece: Piece) -> None:
        self._file.write(json.dumps(asdict(piece), ensure_ascii=False) + "\n")
        self._file.flush()  # a crash loses nothing already shown
        self.count += 1

    def pieces(self) -> Iterator[Piece]:
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield Piece(**json.loads(line))

    def languages(self) -> list[str]:
        """Every language in the store, source languages first."""
        seen: dict[str, str] = {}
        for piece in self.pieces():
            seen.setdefault(piece.lang, piece.kind)
        return sorted(seen, key=lambda lang: (seen[lang] != "source", list(seen).index(lang)))

    def export(self, folder: Path, stem: str = "session") -> list[Path]:
        """Write `<stem>.<lang>.srt` and `<stem>.<lang>.txt` per language; returns the paths."""
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for lang in self.languages():
            pieces = [p for p in self.pieces() if p.lang == lang]
            srt_path, txt_path = folder / f"{stem}.{lang}.srt", folder / f"{stem}.{lang}.txt"
            srt_path.write_text(cues(pieces).to_string("srt"), encoding="utf-8")
            txt_path.write_text(_paragraphs(pieces), encoding="utf-8")
            written += [srt_path, txt_path]
        return written

    def close(self) -> None:
        self._file.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def _paragraphs(pieces: list[Piece]) -> str:
    paragraphs: list[list[str]] = []
    last_utterance = None
    for piece in pieces:
        if piece.utterance != last_utterance:
            paragraphs.append([])
            last_utterance = piece.utterance
        paragraphs[-1].append(piece.text.strip())
    return "\n\n".join(" ".join(p) for p in paragraphs) + ("\n" if paragraphs else "")
