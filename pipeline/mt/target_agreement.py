"""Incremental target commits: LocalAgreement-n over re-translations (pure core).

The target-side twin of `pipeline/asr/agreement.py`. Each re-translation of the
open sentence (one language) is a hypothesis; the words that the last `agreement`
hypotheses share as a prefix are agreed, and all but the last `lag` of them are
committed: they are final (a `target_append`), every later translation of the
sentence is forced to begin with them (`TranslationRequest.prefix`), and its
`target_commit` begins with them too. Commits never shrink and never repeat.

Words are the translation's whitespace-separated tokens, compared exactly (what a
reader sees). A language written without spaces has one "word" per sentence, so
it commits at the sentence end only, as before.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..words import agreed_length

__all__ = ["Append", "TargetAgreement", "TargetCommits", "keep_committed"]


def keep_committed(committed: list[str], text: str) -> str:
    """`text` beginning with the committed words. A forced prefix makes it so already;
    where it does not (a tokenization boundary, a backend that could not force it), the
    committed words stay and the rest of `text` after as many words follows them."""
    words = text.split()
    if words[: len(committed)] == committed:
        return text.strip()
    return " ".join([*committed, *words[len(committed) :]])


class TargetAgreement:
    """The committed words of one sentence's translation in one language."""

    def __init__(self, agreement: int = 2, lag: int = 2) -> None:
        if agreement < 1 or lag < 0:
            raise ValueError("agreement must be 1 or more, lag 0 or more")
        self.agreement = agreement
        self.lag = lag
        self.committed: list[str] = []
        self._history: deque[list[str]] = deque(maxlen=agreement)

    def insert(self, text: str) -> list[str]:
        """Take one translation of the sentence; return the words it newly commits."""
        words = keep_committed(self.committed, text).split()
        self._history.append(words)
        if len(self._history) < self.agreement:
            return []
        agreed = agreed_length(self._history)
        frontier = agreed - self.lag
        if frontier <= len(self.committed):
            return []
        new = words[len(self.committed) : frontier]
        self.committed.extend(new)
        return new

    def prefix(self) -> str | None:
        """The committed words as one string (the prefix a translation must keep)."""
        return " ".join(self.committed) if self.committed else None


@dataclass(frozen=True, slots=True)
class Append:
    """Words newly committed to a sentence: `offset` words were committed before them."""

    text: str
    offset: int


class TargetCommits:
    """One stream's target agreements, per (language, sentence index).

    `enabled` False (`commit = "sentence"`): nothing is committed before the final,
    and requests carry no prefix: today's behaviour, for comparisons."""

    def __init__(self, *, enabled: bool = True, agreement: int = 2, lag: int = 2) -> None:
        self.enabled = enabled
        self.agreement = agreement
        self.lag = lag
        self._open: dict[tuple[str, int], TargetAgreement] = {}

    def prefix(self, lang: str, sentence: int) -> str | None:
        state = self._open.get((lang, sentence))
        return state.prefix() if state is not None else None

    def committed(self, lang: str, sentence: int) -> int:
        state = self._open.get((lang, sentence))
        return len(state.committed) if state is not None else 0

    def partial(self, lang: str, sentence: int, text: str) -> tuple[str, Append | None]:
        """A tentative translation: (it, beginning with the committed words; what it commits)."""
        if not self.enabled:
            return text, None
        state = self._open.get((lang, sentence))
        if state is None:
            state = self._open[(lang, sentence)] = TargetAgreement(self.agreement, self.lag)
        offset = len(state.committed)
        new = state.insert(text)
        text = keep_committed(state.committed, text)
        return text, (Append(" ".join(new), offset) if new else None)

    def final(self, lang: str, sentence: int, text: str) -> str:
        """The final translation, beginning with the committed words; forgets the sentence."""
        state = self._open.pop((lang, sentence), None)
        return keep_committed(state.committed, text) if state is not None else text
