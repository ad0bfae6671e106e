"""LocalAgreement-n: commit the words that n consecutive hypotheses agree on.

The pure core of streaming ASR (after whisper_streaming's HypothesisBuffer).
Each pass re-decodes the utterance buffer; `insert()` takes that hypothesis with
absolute word times, drops what is already committed, and `commit()` returns
the newly agreed prefix. `tail()` is the uncommitted rest: the partial.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence

from ..events import Word
from ..words import agreed_length

__all__ = ["AgreementBuffer", "normalise"]

_PUNCT = re.compile(r"[^\w']+", re.UNICODE)


def normalise(word: str) -> str:
    """Compare words without case or punctuation ('Today,' == 'today')."""
    return _PUNCT.sub("", word).lower()


class AgreementBuffer:
    def __init__(self, agreement: int = 2, overlap_window: float = 1.0) -> None:
        if agreement < 1:
            raise ValueError("agreement must be at least 1")
        self.agreement = agreement
        self.overlap_window = overlap_window
        self.committed: list[Word] = []
        self._history: deque[list[Word]] = deque(maxlen=agreement)

    @property
    def committed_end(self) -> float:
        return self.committed[-1].end if self.committed else 0.0

    def _uncommitted(self, words: Sequence[Word]) -> list[Word]:
        """The part of a full-buffer hypothesis that is not yet committed."""
        if not self.committed:
            return list(words)
        # Words are matched by position first: the decode covers the committed words too.
        keys = [normalise(w.word) for w in self.committed]
        new = [normalise(w.word) for w in words]
        if new[: len(keys)] == keys:
            return list(words[len(keys) :])
        # Otherwise fall back to time, then drop an n-gram that repeats the committed tail.
        rest = [w for w in words if w.end > self.committed_end - 0.05]
        if rest and abs(rest[0].start - self.committed_end) < self.overlap_window:
            for n in range(min(5, len(rest), len(keys)), 0, -1):
                if [normalise(w.word) for w in rest[:n]] == keys[-n:]:
                    return rest[n:]
        return rest

    def insert(self, words: Sequence[Word]) -> None:
        self._history.append(self._uncommitted(words))

    def commit(self) -> list[Word]:
        """Commit the prefix shared by the last `agreement` hypotheses."""
        if len(self._history) < self.agreement:
            return []
        count = agreed_length(self._history, key=lambda w: normalise(w.word))
        agreed = self._history[-1][:count]
        self.committed.extend(agreed)
        self._history = deque((h[count:] for h in self._history), maxlen=self.agreement)
        return agreed

    def tail(self) -> list[Word]:
        return list(self._history[-1]) if self._history else []

    def finalise(self, words: Sequence[Word]) -> list[Word]:
        """End of utterance: the last hypothesis is final; commit all of it."""
        rest = self._uncommitted(words)
        self.committed.extend(rest)
        self._history.clear()
        return rest

    def restart(self) -> None:
        """Forget the hypotheses (not the committed words): the next passes decode differently,
        e.g. in another language."""
        self._history.clear()

    def force(self, words: Sequence[Word]) -> None:
        """Commit words of the latest hypothesis as they are (the buffer must shrink)."""
        self.committed.extend(words)
        self._history.clear()

    def trim(self, before: float) -> None:
        """Forget committed words that end before `before` (after a buffer trim)."""
        self.committed = [w for w in self.committed if w.end > before]
