"""A file-backed store of everything committed in a live session.

Widgets keep only a bounded window of recent text; the whole session goes to an
append-only JSON-lines file here, so memory stays flat over hours and saving
reads the file back. Each line is one committed piece:
`{"lang", "kind": "source"|"target", "utterance", "sentence", "start", "end", "text", "words"}`
(times in seconds of the session's stream; `words`: `[word, start, end]` of a
source commit). Saving writes, per language, an SRT file built by the one
subtitle builder `rtt batch` uses, with its rules (`pipeline/offline/subtitles.py`:
source sentences split into cues that fit, translations timed by the source words
of their sentence), and a plain TXT file (one paragraph per utterance).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.events import Word
from pipeline.offline import SubtitleLimits, source_cues, target_cues
from pipeline.offline.subtitles import (
    Cue,
    span_sentences,
    stream_sentences,
    subtitle_text,
)

__all__ = ["Piece", "TranscriptStore", "cues"]


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
    words: tuple[tuple[str, float, float], ...] = ()  # a source commit's timed words


def cues(pieces: list[Piece], limits: SubtitleLimits, duration: float) -> list[Cue]:
    """Subtitles for one language, with the batch rules. Source pieces: the committed words,
    in sentences per utterance; target pieces: one sentence each, timed by the source words
    of its span (`source` pieces of any language in `pieces` give those)."""
    words = [Word(*w) for p in pieces if p.kind == "source" for w in _words(p)]
    targets = [p for p in pieces if p.kind == "target"]
    if not targets:
        utterances: dict[int, list[Word]] = {}
        for piece in pieces:
            utterances.setdefault(piece.utterance, []).extend(Word(*w) for w in _words(piece))
        language = pieces[0].lang if pieces else "en"
        sentences = stream_sentences(list(utterances.items()), language)
        return source_cues(sentences, limits, duration)
    spans = [(p.sentence, p.utterance, p.start, p.end) for p in targets]
    sentences = span_sentences(words, spans)
    return target_cues(sentences, [p.text for p in targets], limits, duration)


def _words(piece: Piece) -> list[tuple[str, float, float]]:
    """A source piece's words; one word for the whole piece when the words were not kept."""
    return [tuple(w) for w in piece.words] or [(piece.text, piece.start, piece.end)]


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
                    data = json.loads(line)
                    data["words"] = tuple(tuple(w) for w in data.get("words", ()))
                    yield Piece(**data)

    def languages(self) -> list[str]:
        """Every language in the store, source languages first."""
        seen: dict[str, str] = {}
        for piece in self.pieces():
            seen.setdefault(piece.lang, piece.kind)
        return sorted(seen, key=lambda lang: (seen[lang] != "source", list(seen).index(lang)))

    def export(
        self,
        folder: Path,
        stem: str = "session",
        *,
        duration: float | None = None,
        limits: SubtitleLimits | None = None,
    ) -> list[Path]:
        """Write `<stem>.<lang>.srt` and `<stem>.<lang>.txt` per language; returns the paths.
        `duration`: seconds of audio of the session (default: the end of the last piece)."""
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        limits = limits or SubtitleLimits()
        every = list(self.pieces())
        if duration is None:
            duration = max((p.end for p in every), default=0.0)
        sources = [p for p in every if p.kind == "source"]
        written: list[Path] = []
        for lang in self.languages():
            pieces = [p for p in every if p.lang == lang]
            timing = pieces if pieces and pieces[0].kind == "source" else sources + pieces
            srt_path, txt_path = folder / f"{stem}.{lang}.srt", folder / f"{stem}.{lang}.txt"
            text = subtitle_text(cues(timing, limits, duration), "srt")
            srt_path.write_text(text, encoding="utf-8")
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
