"""Fit the machine: from measured translator rates, choose what keeps real time.

A pure core (no I/O, no clocks): `decide()` takes each model's measured decode and
prefill rates (tokens/s, on the threads MT gets, `calibration.py` measures and caches
them) and returns a `FitChoice`: which model gives finals, which serves partials when
behind, and which targets get the main model at full quality; every choice with a
one-line reason a person can check.

The rule is real-time arithmetic. Speech runs at about `SPEECH_WORDS_PER_S` words a
second and a target word is about `TOKENS_PER_WORD` tokens, so the finals of one
target need `FINAL_TOKENS_PER_S` decoded tokens per second of speech, plus the
request each final re-reads (its source sentence and the draft it verifies:
`PREFILL_TOKENS_PER_S`). The share of the MT threads' time that the finals of `n`
targets take is

    load(n) = n * (FINAL_TOKENS_PER_S / decode + PREFILL_TOKENS_PER_S / prefill)

and a model keeps real time for `n` targets when load(n) <= `FINALS_SHARE`: the rest
is headroom for partials (whose drafts the finals verify), bursts of faster speech
and ASR's contention for memory bandwidth (calibration runs with ASR idle).

Partials run at all only when the model giving the finals has room for them (its
finals' load at most `PARTIALS_SHARE`): on one core a partial delays every final that
becomes due while it runs, and measured on 2 cores (docs/eval/realtime.md) the 0.5B's
finals for two targets (load ≈ 0.8) came 16-25 s late with partials, 9 s without.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "FINALS_SHARE",
    "FINAL_TOKENS_PER_S",
    "PARTIALS_SHARE",
    "PREFILL_TOKENS_PER_S",
    "FitChoice",
    "Rates",
    "decide",
    "finals_load",
    "needed_decode",
    "unfitted",
]

SPEECH_WORDS_PER_S = 2.5  # a brisk talk; conversational speech is slower
TOKENS_PER_WORD = 1.75  # German/Spanish words in Qwen2.5's tokenizer: 1.5-2 tokens
FINAL_TOKENS_PER_S = SPEECH_WORDS_PER_S * TOKENS_PER_WORD  # ≈ 4.4 decoded tokens/s per target
# Re-read per second of speech per target: the source sentence (≈ 1.3 tokens a word,
# ≈ 3.3 tokens/s) and the draft a final verifies (≈ 4.4 tokens/s).
PREFILL_TOKENS_PER_S = 8.0
FINALS_SHARE = 0.75  # finals may take 3/4 of MT's time; the rest is headroom (see above)
# Partials stay on the main model when its finals for every target take at most this
# share: a partial re-translates the open sentence about as often as ASR commits, which
# roughly doubles the work, and 2 x 0.4 still leaves a fifth of the time free.
PARTIALS_SHARE = 0.4


@dataclass(frozen=True, slots=True)
class Rates:
    """A model's measured speed on the MT threads: tokens per second."""

    decode: float  # greedy decoding, one token at a time
    prefill: float  # prompt tokens read in one forward pass


@dataclass(frozen=True, slots=True)
class FitChoice:
    """What runs where, and why. `fast_targets` get their finals from `partials`' model."""

    finals: str
    partials: str | None  # the model partials fall back to when behind; None: none
    main_targets: tuple[str, ...]
    fast_targets: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    rates: Mapping[str, Rates] = field(default_factory=dict)
    mode: str = "auto"
    partials_on: bool = True  # False: finals only (no room for re-translations)

    def line(self) -> str:
        """The start-up line: `fit: finals M (...), partials P; ...`."""
        return "fit: " + "; ".join(self.reasons)

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "finals": self.finals,
            "partials": self.partials,
            "main_targets": list(self.main_targets),
            "fast_targets": list(self.fast_targets),
            "partials_on": self.partials_on,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "rates": {
                model: {"decode_tokens_per_s": r.decode, "prefill_tokens_per_s": r.prefill}
                for model, r in self.rates.items()
            },
            "line": self.line(),
        }


def finals_load(rates: Rates, targets: int) -> float:
    """The share of MT's time the finals of `targets` targets take on a model."""
    if rates.decode <= 0 or rates.prefill <= 0:
        return math.inf
    return targets * (FINAL_TOKENS_PER_S / rates.decode + PREFILL_TOKENS_PER_S / rates.prefill)


def needed_decode(prefill: float, targets: int) -> float:
    """The decode rate that keeps `targets` targets within `FINALS_SHARE` at this prefill."""
    spare = FINALS_SHARE - targets * PREFILL_TOKENS_PER_S / prefill if prefill > 0 else 0.0
    return targets * FINAL_TOKENS_PER_S / spare if spare > 0 else math.inf


def _capacity(rates: Rates, limit: int) -> int:
    """How many targets (at most `limit`) a model keeps in real time."""
    return max((n for n in range(limit + 1) if finals_load(rates, n) <= FINALS_SHARE), default=0)


def _rate_note(model: str, rates: Rates, targets: int) -> str:
    need = needed_decode(rates.prefill, targets)
    plural = "s" if targets != 1 else ""
    if not math.isfinite(need):
        return f"{model} (prefill {rates.prefill:.0f} tok/s: too slow for {targets} target{plural})"
    sign = "≥" if rates.decode >= need else "<"
    return (
        f"{model} ({rates.decode:.1f} tok/s {sign} {need:.1f} needed for {targets} target{plural})"
    )


def unfitted(
    model: str, fast: str | None, targets: Sequence[str], reason: str, mode: str = "off"
) -> FitChoice:
    """The configured models exactly (fit off, or a GPU): one reason, no rates."""
    return FitChoice(model, fast, tuple(targets), reasons=(reason,), mode=mode)


def decide(
    main: str, fast: str | None, rates: Mapping[str, Rates], targets: Sequence[str]
) -> FitChoice:
    """The choice for `targets` from the measured `rates` of `main` (and `fast`, if any);
    no targets (a server, where each room asks for its own) fits one."""
    targets = tuple(targets)
    n = max(1, len(targets))  # none yet (a server: each room asks): fit one
    main_rates = rates[main]
    fast_rates = rates.get(fast) if fast else None
    if _capacity(main_rates, 1) >= 1 or fast_rates is None:
        return _main_finals(main, fast, main_rates, fast_rates, targets, rates)
    # The main model cannot keep even one target: the fast one gives the finals.
    assert fast is not None
    keeps = _capacity(fast_rates, n)
    warnings = [f"{main} is too slow here for real time; finals on {fast} (lower quality)"]
    if keeps < n:
        warnings.append(f"{fast} keeps real time for {keeps} of {n} targets; expect lag")
    load = finals_load(fast_rates, n)
    reasons = (
        f"finals {_rate_note(fast, fast_rates, n)}",
        f"not {_rate_note(main, main_rates, 1)}",
        *_partials_off(load),
    )
    return FitChoice(
        fast,
        None,
        targets,
        (),
        reasons,
        tuple(warnings),
        dict(rates),
        partials_on=load <= PARTIALS_SHARE,
    )


def _partials_off(load: float) -> tuple[str, ...]:
    """The reason partials are off, if they are: the finals leave them no room."""
    if load <= PARTIALS_SHARE:
        return ()
    return (f"partials off (finals take {load:.2f} of MT's time > {PARTIALS_SHARE})",)


def _main_finals(
    main: str,
    fast: str | None,
    main_rates: Rates,
    fast_rates: Rates | None,
    targets: tuple[str, ...],
    rates: Mapping[str, Rates],
) -> FitChoice:
    n = max(1, len(targets))
    capacity = _capacity(main_rates, n)
    full = n if fast_rates is None else capacity  # without a fast model, main does them all
    warnings: list[str] = []
    if capacity < full:
        warnings.append(f"{main} keeps real time for {capacity} of {n} targets; expect lag")
    main_targets, fast_targets = targets[:full], targets[full:]
    if fast_targets and fast_rates is not None:
        load = finals_load(main_rates, full) + finals_load(fast_rates, len(fast_targets))
        if load > FINALS_SHARE:
            warnings.append(f"{n} targets exceed real time even with {fast}; expect lag")
    roomy = not fast_targets and finals_load(main_rates, n) <= PARTIALS_SHARE
    partials = main if roomy or fast is None else fast
    partials_on = roomy or fast is not None  # without a fast model, only when there is room
    reasons = [f"finals {_rate_note(main, main_rates, full)}"]
    if partials_on:
        reasons.append(f"partials {partials}" + (" (room to spare)" if roomy and fast else ""))
    else:
        reasons.extend(_partials_off(finals_load(main_rates, n)))
    if fast_targets:
        reasons.append(f"{n} targets → {','.join(fast_targets)} on the fast model")
    return FitChoice(
        main,
        None if partials == main else partials,
        main_targets,
        fast_targets,
        tuple(reasons),
        tuple(warnings),
        dict(rates),
        partials_on=partials_on,
    )
