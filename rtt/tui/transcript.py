"""Transcript panes: an anchored scroll view of committed paragraphs and a tentative tail.

`Paragraphs` is the pure core: committed text accumulates in the open paragraph
(one per utterance); tentative text (the source partial, or per-sentence partial
translations) is the tail, replaced in place until it is committed. Words of a
translation committed before its sentence ends (`append`, target_append) show as
committed text ahead of that sentence's tentative rest. The widget
shows closed paragraphs as plain text, the open one as committed text followed by
the tentative tail in the `transcript--tentative` style. It follows the newest text
(anchored); scrolled back, it keeps its place. Only the latest `max_paragraphs`
stay in the widget: the whole session is in the file-backed store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

__all__ = ["Paragraphs", "TranscriptView"]

MAX_PARAGRAPHS = 200
_TENTATIVE_FALLBACK = "italic dim"


@dataclass
class Paragraphs:
    """The open paragraph: its key, committed pieces, and tentative text per sentence."""

    key: Hashable = None
    committed: list[str] = field(default_factory=list)
    tentative: dict[int, str] = field(default_factory=dict)
    appended: dict[int, list[str]] = field(default_factory=dict)  # open sentence -> final words

    def _open(self, key: Hashable) -> str | None:
        """Move to paragraph `key`; the text of the one it closes, if any."""
        if key == self.key:
            return None
        closed = " ".join(self.committed) if self.committed else None
        self.key, self.committed, self.tentative, self.appended = key, [], {}, {}
        return closed

    def commit(self, key: Hashable, text: str, sentence: int = 0) -> str | None:
        closed = self._open(key)
        if text.strip():
            self.committed.append(text.strip())
        self.tentative = {s: t for s, t in self.tentative.items() if s > sentence}
        self.appended = {s: w for s, w in self.appended.items() if s > sentence}
        return closed

    def append(self, key: Hashable, text: str, sentence: int, offset: int) -> str | None:
        """Words of an open sentence's translation that are final; a repeat is skipped."""
        closed = self._open(key)
        words = self.appended.setdefault(sentence, [])
        if offset < len(words):
            return closed
        new = text.split()
        words += new
        if sentence in self.tentative:  # the tentative text keeps only what follows them
            self.tentative[sentence] = " ".join(self.tentative[sentence].split()[len(new) :])
        return closed

    def _after(self, sentence: int, text: str) -> str:
        return " ".join(text.split()[len(self.appended.get(sentence, ())) :])

    def propose(self, key: Hashable, text: str, sentence: int = 0) -> str | None:
        closed = self._open(key)
        text = self._after(sentence, text)
        if text.strip():
            self.tentative[sentence] = text.strip()
        else:
            self.tentative.pop(sentence, None)
        return closed

    def settle(self) -> None:
        """The speaker paused: nothing tentative is left in the open paragraph."""
        self.tentative.clear()

    @property
    def text(self) -> str:
        """The committed text: closed pieces, then the words appended to open sentences."""
        appended = [" ".join(self.appended[s]) for s in sorted(self.appended) if self.appended[s]]
        return " ".join([*self.committed, *appended])

    @property
    def tail(self) -> str:
        return " ".join(self.tentative[s] for s in sorted(self.tentative))


class TranscriptView(VerticalScroll, can_focus=True):
    """One language's transcript."""

    COMPONENT_CLASSES = {"transcript--tentative"}
    DEFAULT_CSS = """
    TranscriptView .transcript--tentative { text-style: italic; color: $text-muted; }
    """

    def __init__(
        self, lang: str, title: str, *, max_paragraphs: int = MAX_PARAGRAPHS, id: str | None = None
    ) -> None:
        super().__init__(id=id, classes="transcript")
        self.lang = lang
        self.border_title = title
        self.max_paragraphs = max_paragraphs
        self.core = Paragraphs()
        self.dropped = 0  # paragraphs moved out of the widget (still in the store)
        self._shown: deque[Static] = deque()  # the closed paragraphs in the widget, oldest first
        self._earlier = Static("", classes="earlier")
        self._live = Static("", classes="live")

    def compose(self):
        yield self._earlier
        yield self._live

    def on_mount(self) -> None:
        self._earlier.display = False
        self.anchor()

    # -- updates --------------------------------------------------------------
    def commit(self, key: Hashable, text: str, sentence: int = 0) -> None:
        self._retire(self.core.commit(key, text, sentence))
        self._render_live()

    def append(self, key: Hashable, text: str, sentence: int, offset: int) -> None:
        self._retire(self.core.append(key, text, sentence, offset))
        self._render_live()

    def propose(self, key: Hashable, text: str, sentence: int = 0) -> None:
        self._retire(self.core.propose(key, text, sentence))
        self._render_live()

    def settle(self) -> None:
        self.core.settle()
        self._render_live()

    def clear(self) -> None:
        self.core = Paragraphs()
        self.dropped = 0
        for widget in self._shown:
            widget.remove()
        self._shown.clear()
        self._earlier.display = False
        self._render_live()
        self.anchor()

    # -- what is shown ----------------------------------------------------------
    @property
    def paragraphs(self) -> list[str]:
        """The closed paragraphs in the widget (not those moved to the store)."""
        return [str(p.content) for p in self._shown]

    @property
    def shown_text(self) -> str:
        """Everything in the widget, committed and tentative, as plain text."""
        return " ".join(p for p in [*self.paragraphs, self.core.text, self.core.tail] if p)

    def _retire(self, text: str | None) -> None:
        if text is None:
            return
        paragraph = Static(text, classes="paragraph", markup=False)
        self._shown.append(paragraph)
        self.mount(paragraph, before=self._live)
        self._trim()

    def _trim(self) -> None:
        """Drop the oldest paragraphs; while scrolled back, wait (up to twice the window) to keep the place."""
        excess = len(self._shown) - self.max_paragraphs
        # Textual releases the anchor when the reader scrolls away, and restores it at the bottom.
        following = not getattr(self, "_anchor_released", False)
        if excess <= 0 or (not following and len(self._shown) < 2 * self.max_paragraphs):
            return
        for _ in range(excess):
            self._shown.popleft().remove()
        self.dropped += excess
        self._earlier.update(
            f"… {self.dropped} earlier paragraph(s) are kept in the session file (save writes them all)"
        )
        self._earlier.display = True

    def _render_live(self) -> None:
        text = Text(self.core.text)
        tail = self.core.tail
        if tail:
            try:
                style: Style | str = self.get_component_rich_style("transcript--tentative")
            except KeyError:  # component styles are briefly missing while Textual re-applies CSS
                style = _TENTATIVE_FALLBACK
            text.append((" " if self.core.text else "") + tail, style=style)
        self._live.update(text)
