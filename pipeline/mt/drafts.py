"""Draft sources: cheap guesses of the next target tokens, verified by the target model.

One protocol, as transformers' CandidateGenerator: a source proposes the tokens it
expects after what has been produced so far; the speculative backend verifies
them in one forward pass and counts the matches. Sources are made per request.

- `PreviousHypothesis`: the last translation of the same sentence. Re-translation
  of a growing prefix mostly repeats it; after a divergence it proposes again
  from where the output re-joins it (an n-gram match), so an inserted word does
  not cost the rest of the sentence.
- `PromptLookup`: n-gram prompt lookup in the source text (names and numbers
  pass through a translation unchanged).
- `DraftModel`: a smaller model with the same tokenizer decodes k tokens ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "DraftModel",
    "DraftSource",
    "GreedyModel",
    "PreviousHypothesis",
    "PromptLookup",
    "common_prefix",
    "ngram_continuation",
]


class DraftSource(Protocol):
    def propose(self, generated: Sequence[int], limit: int) -> list[int]:
        """Up to `limit` tokens expected after `generated`; [] when it has no guess."""
        ...


def ngram_continuation(
    reference: Sequence[int], generated: Sequence[int], ngram: int, limit: int, *, floor: int = 0
) -> list[int]:
    """What follows the last occurrence (at or after `floor`) of `generated`'s final
    `ngram` tokens in `reference`."""
    if len(generated) < ngram or ngram <= 0:
        return []
    tail = list(generated[-ngram:])
    for start in range(len(reference) - ngram, max(floor, 0) - 1, -1):
        if list(reference[start : start + ngram]) == tail:
            return list(reference[start + ngram : start + ngram + limit])
    return []


class PreviousHypothesis:
    """The previous translation: as a whole while the output follows it, else re-joined."""

    def __init__(self, draft: Sequence[int], *, ngram: int = 2) -> None:
        self.draft = list(draft)
        self.ngram = ngram

    def propose(self, generated: Sequence[int], limit: int) -> list[int]:
        common = common_prefix(self.draft, generated)
        if common == len(generated):
            return self.draft[common : common + limit]
        # Re-join only after the divergence: what came before it was already used.
        return ngram_continuation(self.draft, generated, self.ngram, limit, floor=common)


class PromptLookup:
    """Tokens copied from the source text after an n-gram the output just produced."""

    def __init__(self, source: Sequence[int], *, ngram: int = 2) -> None:
        self.source = list(source)
        self.ngram = ngram

    def propose(self, generated: Sequence[int], limit: int) -> list[int]:
        return ngram_continuation(self.source, generated, self.ngram, limit)


class GreedyModel(Protocol):
    def greedy(self, static: Sequence[int], prefix: Sequence[int], max_new: int) -> list[int]:
        """Greedy tokens after static + prefix, up to an end token (included) or `max_new`."""
        ...


class DraftModel:
    """A small model sharing the target's tokenizer decodes `k` tokens greedily.

    `steps` counts its sequential decoder calls (they are the draft model's, not
    the target's, so the backend reports them apart).
    """

    def __init__(
        self, model: GreedyModel, static: list[int], dynamic: list[int], *, k: int = 6
    ) -> None:
        self.model = model
        self.static = static
        self.dynamic = dynamic
        self.k = k
        self.steps = 0

    def propose(self, generated: Sequence[int], limit: int) -> list[int]:
        k = min(self.k, limit)
        if k <= 0:
            return []
        ids = self.model.greedy(self.static, [*self.dynamic, *generated], k)
        self.steps += len(ids)
        return ids


def common_prefix(a: Sequence, b: Sequence) -> int:
    """Number of leading items two sequences share (tokens, ids or words)."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
