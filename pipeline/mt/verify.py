"""Acceptance of a draft against the target model's scores: pure logic, no model.

One forward pass over prompt + draft gives, at each draft position, the model's
greedy token and how much less likely than it the draft token is. The draft is
accepted up to the first position where the model disagrees; there the model's
own token is taken, so a verification never yields fewer than one new token.

`exact` acceptance (beta = 1) keeps greedy decoding's result (up to near-ties of
int8 arithmetic). `stable` acceptance (beta < 1) also keeps a draft token whose
probability is at least `beta` times the best token's: the translation then
changes only where the model clearly prefers something else (the stability
bias of self-speculative biased decoding, arXiv 2509.21740). `biased_until`
limits the bias to the draft's head, the part a reader has already seen.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PositionScore", "Verdict", "position_scores", "verify_draft"]


@dataclass(frozen=True, slots=True)
class PositionScore:
    """The target model at one position: its greedy token, and the draft token's
    log-probability minus the greedy token's (0 when they are equal, else <= 0)."""

    best: int
    draft_margin: float = -math.inf


def position_scores(rows: np.ndarray, drafted: Sequence[int]) -> list[PositionScore]:
    """Scores from a model's logits: `rows[i]` predicts draft position i, and the row after
    the last drafted one (len(drafted) + 1 rows) gives the bonus position. The logit
    difference is the log-probability difference: softmax's normaliser cancels."""
    best = rows.argmax(axis=-1)
    index = np.arange(len(drafted))
    draft = np.asarray(drafted, dtype=np.int64)
    margins = rows[index, draft] - rows[index, best[: len(drafted)]]
    scores = [PositionScore(int(b), float(m)) for b, m in zip(best, margins)]
    scores.append(PositionScore(int(best[-1])))
    return scores


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: int  # draft tokens the model agreed with (an accepted end token counts)
    tokens: tuple[
        int, ...
    ]  # new output tokens: accepted draft, then the model's own token; no end token
    finished: bool  # an end token was accepted or chosen: the translation is complete


def verify_draft(
    draft: Sequence[int],
    scores: Sequence[PositionScore],
    *,
    beta: float = 1.0,
    end_ids: Collection[int] = (),
    biased_until: int | None = None,
) -> Verdict:
    """Accept the longest agreeing prefix of `draft`, then take the model's token.

    `scores[i]` is the model at draft position i; `scores[len(draft)]`, when given,
    is the position after the draft (its token is the bonus of a full accept).
    Draft positions from `biased_until` on are checked exactly (beta = 1).
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be within [0, 1], got {beta}")
    threshold = math.log(beta) if beta > 0 else -math.inf
    limit = len(draft) if biased_until is None else min(biased_until, len(draft))
    for i, token in enumerate(draft):
        score = scores[i]
        agrees = token == score.best or (i < limit and beta < 1 and score.draft_margin >= threshold)
        if not agrees:
            return _take(draft[:i], i, score.best, end_ids)
        if token in end_ids:
            return Verdict(i + 1, tuple(draft[:i]), True)
    bonus = scores[len(draft)].best if len(scores) > len(draft) else None
    return _take(draft, len(draft), bonus, end_ids)


def _take(
    accepted: Sequence[int], count: int, model_token: int | None, end_ids: Collection[int]
) -> Verdict:
    if model_token is None:
        return Verdict(count, tuple(accepted), False)
    if model_token in end_ids:
        return Verdict(count, tuple(accepted), True)
    return Verdict(count, (*accepted, model_token), False)
