"""Printing events: a readable live view, or one JSON object per line.

The readable view prints committed source words and committed translations as
permanent lines. On a terminal, the current partials (source tail and tentative
translations) sit on one status line at the bottom that is rewritten in place; the
words of a translation committed before its sentence ends (target_append) show there
in full brightness before the tentative rest, and the whole sentence prints at its
target_commit.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from pipeline.events import (
    End,
    Error,
    Event,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    TargetAppend,
    TargetCommit,
    TargetPartial,
    to_json,
)

UNDETERMINED = "und"
UNSURE = 0.8  # a detected language below this probability comes with a warning

__all__ = ["JsonlView", "TextView", "make_view"]


def _clock(seconds: float | None) -> str:
    seconds = seconds or 0.0
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


class JsonlView:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def show(self, event: Event | None) -> None:
        if event is None:  # an event type this version does not know
            return
        self.out.write(json.dumps(to_json(event), ensure_ascii=False) + "\n")
        self.out.flush()

    def close(self) -> None:
        pass


class TextView:
    """Committed text as lines; partials on a status line when on a terminal."""

    def __init__(self, out: TextIO, *, live: bool | None = None, width: int | None = None) -> None:
        self.console = Console(file=out, highlight=False, soft_wrap=True, width=width)
        self.live = out.isatty() if live is None else live
        self._partials: dict[str, str] = {}  # "src" or a target language -> tentative text
        self._appended: dict[str, list[str]] = {}  # target language -> committed words shown
        self._status_shown = False
        self._source_lang: str | None = None
        self._undecided = False  # the source partial's language is not decided yet

    def show(self, event: Event | None) -> None:
        if event is None:  # an event type this version does not know
            return
        if isinstance(event, SourceCommit):
            self._language(event)
            self._line(event.emitted, event.lang, event.text, "bold")
            self._partials.pop("src", None)
        elif isinstance(event, TargetCommit):
            self._line(event.emitted, event.lang, event.text, "bold green")
            self._partials.pop(event.lang, None)
            self._appended.pop(event.lang, None)
        elif isinstance(event, TargetAppend):
            words = self._appended.setdefault(event.lang, [])
            if event.offset >= len(words):  # a repeat is skipped
                words += event.text.split()
        elif isinstance(event, SourcePartial):
            self._partials["src"] = event.text
            self._undecided = event.lang == UNDETERMINED
        elif isinstance(event, TargetPartial):
            committed = len(self._appended.get(event.lang, ()))
            self._partials[event.lang] = " ".join(event.text.split()[committed:])
        elif isinstance(event, SpeechEnd):
            self._partials.pop("src", None)
        elif isinstance(event, Error):
            self._clear_status()
            Console(file=sys.stderr).print(f"[red]error ({event.code}):[/] {escape(event.message)}")
        if self.live and not isinstance(event, End):
            self._draw_status()

    def close(self) -> None:
        self._clear_status()

    def _language(self, event: SourceCommit) -> None:
        """Say which language was detected (and warn when unsure), and when it changes."""
        if event.lang == self._source_lang or event.language_probability is None:
            self._source_lang = event.lang
            return
        p = event.language_probability
        was = f" (was {self._source_lang})" if self._source_lang else ""
        warn = p < UNSURE
        note = f"source language: {event.lang}{was}, probability {p:.0%}"
        if warn:
            note += " (unsure: pass --from LANG or --from auto:LANG,LANG)"
        self._clear_status()
        self.console.print(f"[{'bold yellow' if warn else 'dim'}]{escape(note)}[/]")
        self._source_lang = event.lang

    def _line(self, emitted: float | None, lang: str, text: str, style: str) -> None:
        self._clear_status()
        self.console.print(f"[dim]{_clock(emitted)}[/] [{style}]{lang:>3}[/]  {escape(text)}")

    def _draw_status(self) -> None:
        label = {"src": "src (detecting the language…)"} if self._undecided else {}
        keys = [*self._partials, *(k for k in self._appended if k not in self._partials)]
        parts = []  # (label, committed words, tentative words)
        for k in keys:
            done, tail = " ".join(self._appended.get(k, ())), self._partials.get(k, "")
            if done or tail:
                parts.append((f"{label.get(k, k)}: ", done + " " if done and tail else done, tail))
        self._clear_status()
        if parts:
            width = self.console.width - 2
            text = " │ ".join(a + b + c for a, b, c in parts)
            if len(text) > width:  # one style when cut: the start is gone anyway
                text = "…" + text[-(width - 1) :]
                self.console.file.write(f"\x1b[2m{text}\x1b[0m")
            else:  # committed words bright, tentative ones dim
                self.console.file.write(" │ ".join(_status_part(*part) for part in parts))
            self.console.file.flush()
            self._status_shown = True

    def _clear_status(self) -> None:
        if self._status_shown:
            self.console.file.write("\r\x1b[2K")
            self.console.file.flush()
            self._status_shown = False


def _status_part(label: str, committed: str, tentative: str) -> str:
    if not committed:
        return f"\x1b[2m{label}{tentative}\x1b[0m"
    return f"\x1b[2m{label}\x1b[0m{committed}\x1b[2m{tentative}\x1b[0m"


def make_view(jsonl: bool, out: TextIO | None = None) -> JsonlView | TextView:
    out = out or sys.stdout
    return JsonlView(out) if jsonl else TextView(out)
