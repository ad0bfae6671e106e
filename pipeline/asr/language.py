"""Language identification: decide a stream's language on evidence, and follow a switch.

The pure core of `--from auto` (in the style of agreement.py). It is fed the
language probabilities of detection passes (Whisper's language head over a
30 s-padded window of the speech so far; the head was trained on 30 s windows,
short streaming windows mislead it) and the seconds of speech they cover:

- Undecided, a detection runs every `every` seconds of new speech (half that
  after one whose best reached `soon`: its confirmation is near); the best
  language (among the candidates, renormalised) is taken once its probability
  reaches the bar for the speech heard (`bar()`: `bars` on short windows, where
  a wrong language reaches 0.93 on 0.5 s and 0.87 on 4.5 s of espeak German,
  then `threshold`; measured per window length on the corpus by
  scripts/langid_curve.py, docs/eval/langid.md) and, below `alone`, the detection
  before found the same best language (one window's fluke is not enough); at the
  latest once `max_speech` seconds of speech were heard or the stream ends
  (`final`). Until then the language is "und" and nothing may be committed (`hold`).
- Decided, the language changes only on evidence: a streaming pass whose own
  (cheap, short-window) probabilities give the current language less than
  `evidence` or that heard nothing in a long buffer, or an explicit request. That
  asks for a re-detection once `evidence_passes` passes in a row say so (short
  windows are noisy). A switch needs two re-detections (the second on more
  speech, possibly of the next utterance) to find the same new language at
  `switch` or more (hysteresis: far above the evidence bar) and ahead of the
  current one; one that finds another language at `suspect` or more (ahead of
  the current) already suspects a switch, which watches the next utterance (the
  second utterance of a German question is read German at 0.98 where the first
  reached 0.80 among all languages); a re-detection that confirms the current
  language (`threshold`) clears the suspicion. An inconclusive re-detection is retried once
  `recheck_growth` more seconds of speech were heard, at most `max_rechecks`
  times per request.
- Quiet periods (no evidence taken, for cost: a re-detection encodes a 30 s
  window): `cooldown` seconds of speech after the first decision or a
  re-detection that confirmed the language or found no other; after a switch,
  or an inconclusive request with a switch suspected, only until the next
  utterance (`turn`): a question in another language ends with the speaker's
  turn, and the answer may switch back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["UNDETERMINED", "LanguageID", "LanguagePolicy", "restrict"]

UNDETERMINED = "und"  # ISO 639-2 "undetermined"

Probs = Sequence[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class LanguagePolicy:
    threshold: float = 0.8  # decide once the best candidate is this likely
    # ... but on less speech than each (seconds, bar), this likely: short windows mislead
    bars: tuple[tuple[float, float], ...] = ((1.5, 0.95), (8.0, 0.9))
    alone: float = 0.95  # below this, the detection before must have found the same language
    max_speech: float = 15.0  # ... or at the latest after this much speech
    min_speech: float = 0.5  # no detection on less speech than this (a cough, a click)
    every: float = 1.0  # undecided: seconds of new speech between detections
    soon: float = 0.5  # ... half as many after one whose best is this likely (agreement near)
    evidence: float = 0.2  # a streaming pass giving the language less than this: re-detect
    evidence_passes: int = 2  # ... when this many passes in a row say so
    cooldown: float = (
        10.0  # seconds of speech taking no evidence after a decision or a re-detection
    )
    switch: float = 0.85  # a re-detection switches to a language at least this likely
    # ... and one that finds another language this likely (ahead of the current) suspects a
    # switch: the next utterance is re-detected (plain auto reads espeak German at 0.6-0.8)
    suspect: float = 0.6
    empty_after: float = 3.0  # a pass with no words over this much audio is evidence too
    recheck_growth: float = 1.5  # an inconclusive re-detection is retried after this much speech
    recheck_audio: float = 2.5  # a re-detection looks at no less of the utterance than this
    max_rechecks: int = 3

    def bar(self, speech: float) -> float:
        """The probability the best language needs to be decided on `speech` seconds."""
        short = [bar for until, bar in self.bars if speech < until]
        return max(short[0], self.threshold) if short else self.threshold


def restrict(probs: Iterable[tuple[str, float]], candidates: Sequence[str] = ()) -> list:
    """The probabilities of the candidates only (all when none), renormalised, best first."""
    kept = [(lang, float(p)) for lang, p in probs if not candidates or lang in candidates]
    total = sum(p for _, p in kept)
    if total <= 0:
        share = 1.0 / len(candidates) if candidates else 0.0
        return [(lang, share) for lang in candidates]
    return sorted(((lang, p / total) for lang, p in kept), key=lambda lp: -lp[1])


class LanguageID:
    def __init__(self, candidates: Sequence[str] = (), policy: LanguagePolicy | None = None):
        self.candidates = tuple(candidates)
        self.policy = policy or LanguagePolicy()
        self.language: str | None = None  # decided language
        self.probability: float | None = None  # its probability at the deciding detection
        self.guess: str | None = None  # best language so far (to decode partials with)
        self.decided_at: float | None = None  # seconds of speech when decided
        self.switches = 0
        self.detections = 0
        self._recheck_at: float | None = None  # speech seconds from which a re-detection may run
        self._rechecks = 0
        self._soon = False  # undecided: the last detection was promising, detect again sooner
        self._detected_at: float | None = None  # speech seconds at the last detection
        self._doubts = 0  # passes in a row that made the language unlikely
        self._suspect: str | None = None  # the language a re-detection found: one more must agree
        self._sure = 0  # re-detections that found the suspect at `switch` or more
        self._quiet_until = 0.0  # no evidence is taken before this much speech
        self._quiet_turn = False  # ... nor before the next utterance begins
        self._suspect_age = 0  # utterances begun since the suspicion arose

    # -- state ------------------------------------------------------------------
    @property
    def decided(self) -> bool:
        return self.language is not None

    @property
    def hold(self) -> bool:
        """True while nothing may be committed: undecided, or a switch is being checked."""
        return not self.decided or self._recheck_at is not None

    @property
    def settled(self) -> bool:
        """Decided, and no switch being checked or suspected: an utterance may be committed."""
        return self.decided and self._recheck_at is None and self._suspect is None

    @property
    def label(self) -> str:
        return self.language or UNDETERMINED

    def needs_detection(self, speech: float) -> bool:
        """Whether the next pass should first run a detection over `speech` seconds."""
        if not self.decided:
            last = self._detected_at
            every = self.policy.every / 2 if self._soon else self.policy.every
            return speech >= self.policy.min_speech and (last is None or speech >= last + every)
        return self._recheck_at is not None and speech >= self._recheck_at

    # -- input ------------------------------------------------------------------
    def observe(self, probs: Probs, speech: float, *, final: bool = False) -> bool:
        """One detection pass over `speech` seconds; True when the language changed.

        `final`: no more speech will come for this decision (the utterance ended):
        an undecided stream takes its best candidate now.
        """
        ranked = restrict(probs, self.candidates)
        if not ranked:
            return False
        self.detections += 1
        self._detected_at = speech
        best, p = ranked[0]
        if not self.decided:
            previous, self.guess = self.guess, best
            self._soon = p >= self.policy.soon  # a second opinion is worth having sooner
            agreed = p >= self.policy.alone or previous == best
            if (
                (p >= self.policy.bar(speech) and agreed)
                or speech >= self.policy.max_speech
                or final
            ):
                self._set(best, p, speech)
                return True
            return False
        return self._recheck(dict(ranked), best, p, speech, final)

    def _recheck(self, probs: dict, best: str, p: float, speech: float, final: bool) -> bool:
        current = probs.get(self.language, 0.0)  # type: ignore[arg-type]
        conclusive = best == self.language and current >= self.policy.threshold
        if best != self.language and p >= self.policy.suspect and p > current:
            if self._suspect != best:  # unsure re-detections leave a suspicion standing
                self._suspect, self._suspect_age, self._sure = best, 0, 0
            self._sure += p >= self.policy.switch
            if self._sure >= 2:  # confirmed by a second re-detection on more speech
                self.switches += 1
                self._set(best, p, speech)
                self._end_request(speech, turn=True)  # the next speaker may switch back
                return True
        elif conclusive:
            self._suspect = None
        self._rechecks += 1
        if conclusive:
            self._end_request(speech + self.policy.cooldown)
        elif final or self._rechecks >= self.policy.max_rechecks:
            self._give_up(speech)
        else:
            self._recheck_at = speech + self.policy.recheck_growth
        return False

    def _end_request(self, quiet_until: float, *, turn: bool = False) -> None:
        self._recheck_at, self._rechecks = None, 0
        self._quiet_until, self._quiet_turn = quiet_until, turn

    def evidence(self, probs: Probs, *, words: int, audio: float, speech: float) -> bool:
        """A streaming pass in the decided language; True when it asks for a re-detection.

        `probs` are the pass's own language probabilities (short window: a hint only),
        `words` how many words it heard in `audio` seconds of buffer.
        """
        quiet = speech < self._quiet_until or self._quiet_turn
        if not self.decided or self._recheck_at is not None or quiet:
            return False
        ranked = dict(restrict(probs, self.candidates)) if probs else {}
        unlikely = bool(ranked) and ranked.get(self.language, 0.0) < self.policy.evidence  # type: ignore[arg-type]
        silent = words == 0 and audio >= self.policy.empty_after
        self._doubts = self._doubts + 1 if unlikely or silent else 0
        if self._doubts >= self.policy.evidence_passes:
            self.request(speech)
            return True
        return False

    def dismiss(self, speech: float) -> None:
        """End a pending re-detection without one (too little audio to judge): keep the language
        and watch the next utterance."""
        if self._recheck_at is not None:
            self._give_up(speech)

    def _give_up(self, speech: float) -> None:
        """An inconclusive request ends: with a switch suspected, the next utterance is watched
        (`turn` re-detects it); without one, the short windows' doubts were noise: cool down."""
        if self._suspect is None:
            self._end_request(speech + self.policy.cooldown)
        else:
            self._end_request(speech, turn=True)

    def turn(self, speech: float) -> None:
        """A new utterance begins: a quiet period that lasts until the next turn ends; a
        suspicion from the utterance before asks for a re-detection of this one (its commits wait),
        an older one is dropped."""
        self._quiet_turn = False
        self._suspect_age += 1
        if self._suspect_age > 1:
            self._suspect = None
        elif self._suspect is not None:
            self.request(speech)

    def request(self, speech: float) -> None:
        """Ask for a re-detection at the next pass (e.g. the user says the language changed)."""
        if self.decided:
            self._recheck_at, self._rechecks, self._doubts = speech, 0, 0

    def _set(self, language: str, probability: float, speech: float) -> None:
        self.language, self.guess = language, language
        self.probability = round(probability, 3)
        self.decided_at = speech
        self._suspect = None
        # a fresh decision (on a 30 s window) outweighs the short windows' hints for a while
        self._end_request(speech + self.policy.cooldown)
