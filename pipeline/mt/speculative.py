"""Speculative re-translation: the previous translation is the draft, verified in one pass.

Re-translating a growing sentence mostly repeats the last translation. Plain
greedy decoding pays one sequential decoder call per target token every time;
here the previous translation is verified at once (one forward pass over prompt
+ draft gives the model's choice at every draft position, see `verify.py`), the
agreeing prefix is kept, and greedy decoding continues only from the first
divergence, with the draft sources proposing again as soon as the output
re-joins a guess (`drafts.py`).

The model is any `SpeculationTarget`: CTranslate2 (`ct2_backend.py`) or llama.cpp
(`llama_backend.py`). Continuation folds the accepted tokens into the prompt of
one greedy call (they are forwarded at once into the KV cache, after the cached
static prompt), so an update costs at most one verification pass and one
prefill before its new tokens. llama.cpp also keeps the previous call's tokens
cached, so the prefill reads only what changed.

Modes:
- `exact`: accept only the model's greedy tokens (beta = 1): the output equals
  plain greedy decoding (up to near-ties of int8 arithmetic).
- a forced `prefix` (the committed target words, `TranslationRequest.prefix`) is
  taken as it is in every mode, never verified: output starts after it.
- `stable`: the part of the draft a reader has seen (all but the last
  `display_mask` tokens) is kept as it is, without a verification pass: it
  enters the KV cache in the continuation's one prefill, and only the masked
  tail and the new words are decoded. With `beta` > 0 it is verified when the
  source ends a sentence (the final translation; `verify_seen="every"`: every
  update), keeping a seen token whose probability is at least `beta` times the
  best token's, so the model can still correct what it clearly disagrees with.

On a CPU a CTranslate2 verification pass costs about a dozen decoder steps of the
1.5B (`forward_batch` has no prompt cache and recomputes the static prompt), which
is why stable mode avoids passes on partials; llama.cpp's pass reads only the
uncached part and computes logits at the draft's positions alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..audio_format import SENTENCE_END
from ..config import MTConfig
from ..errors import ConfigError
from .drafts import DraftModel, DraftSource, PreviousHypothesis, PromptLookup
from .prompts import reply_complete
from .translator import Translation, TranslationRequest
from .verify import PositionScore, verify_draft

__all__ = ["SpeculationStats", "SpeculationTarget", "SpeculativeBackend"]


@runtime_checkable
class SpeculationTarget(Protocol):
    """What speculation needs of a loaded model, in token ids (both runtimes implement it)."""

    name: str
    end_ids: list[int]

    def prompt_ids(self, request: TranslationRequest) -> tuple[list[int], list[int]]:
        """(static, per-request) prompt ids: the static part is shared by a language pair."""
        ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_limit(self, dynamic: Sequence[object]) -> int: ...

    def to_translation(self, request: TranslationRequest, ids: list[int]) -> Translation: ...

    def greedy(
        self,
        static: Sequence[int],
        prefix: Sequence[int],
        max_new: int,
        stop: Callable[[int], bool] = ...,
    ) -> list[int]:
        """Greedy tokens after static + prefix, until an end token (included), `stop(token)`
        is true (the token included) or `max_new` tokens."""
        ...

    def scores(
        self, static: Sequence[int], sequence: Sequence[int], first: int
    ) -> list[PositionScore]:
        """The model at positions `first`.. of `sequence` (after `static`) and one past it."""
        ...


@dataclass(slots=True)
class SpeculationStats:
    """Where the time goes, summed over requests (seconds) and what was accepted."""

    requests: int = 0
    proposed: int = 0  # draft tokens verified
    accepted: int = 0  # of which the model accepted
    verify_passes: int = 0
    generated: int = 0  # tokens from sequential continuation
    draft_steps: int = 0  # draft model decoder calls
    verify_seconds: float = 0.0
    continue_seconds: float = 0.0
    draft_seconds: float = 0.0
    tokenize_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.proposed if self.proposed else 0.0


_EXACT = MTConfig(speculative="exact", beta=1.0)


class SpeculativeBackend:
    """A `Translator` that verifies `request.draft` with the target model before decoding.

    Wraps loaded plain backends (the target and, optionally, a draft model with the
    same tokenizer) so the registry loads each model once; it owns neither.
    """

    def __init__(
        self,
        target: SpeculationTarget,
        config: MTConfig = _EXACT,
        *,
        draft: SpeculationTarget | None = None,
    ) -> None:
        """`config` is the pipeline's MT section (its speculation settings, validated there)."""
        if config.speculative not in ("exact", "stable"):
            raise ConfigError(
                f"speculative mode must be exact or stable, got {config.speculative!r}"
            )
        self.target = target
        self.draft = draft
        self.config = config
        suffix = f"+{draft.name}" if draft is not None else ""
        self.name = f"spec-{config.speculative}:{target.name}{suffix}"
        self.stats = SpeculationStats()

    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]:
        started = time.perf_counter()
        results = []
        for request in requests:  # one at a time: each has its own draft and its own lengths
            if not request.source.strip():
                results.append(Translation("", 0, 0))
                continue
            ids, steps = self.speculate(request)
            translation = self.target.to_translation(request, ids)
            results.append(Translation(translation.text, translation.tokens, steps))
        self.stats.requests += len(requests)
        self.stats.total_seconds += time.perf_counter() - started
        return results

    def speculate(self, request: TranslationRequest) -> tuple[list[int], int]:
        """Token ids of the greedy translation and the sequential target decoder calls it took."""
        t0 = time.perf_counter()
        static, dynamic = self.target.prompt_ids(request)
        draft_ids = self._encode(request.draft)
        prefix_ids = self._encode(request.prefix)
        self.stats.tokenize_seconds += time.perf_counter() - t0
        run = _Run(self, request, static, dynamic, draft_ids, prefix_ids)
        return run.decode()

    def close(self) -> None:
        """Nothing to free: the wrapped backends belong to their own engines."""

    def _encode(self, text: str | None) -> list[int]:
        if not text or not text.strip():
            return []
        return self.target.encode(text.strip())


# When a request does not say whether it is final: an open sentence (a partial)
# rarely ends with sentence-final punctuation; a finished one (the final) does.
_SENTENCE_ENDS = SENTENCE_END


class _Run:
    """One request's decoding: verification rounds and greedy continuations."""

    def __init__(
        self,
        backend: SpeculativeBackend,
        request: TranslationRequest,
        static: list[int],
        dynamic: list[int],
        draft: list[int],
        prefix: Sequence[int] = (),
    ) -> None:
        self.backend = backend
        self.config = backend.config
        self.stats = backend.stats
        self.target = backend.target
        self.static, self.dynamic = static, dynamic
        self.draft = draft
        self.prefix = list(prefix)
        self.limit = backend.target.token_limit(dynamic)
        self.single_line = "\n" not in request.source.strip()
        guess = request.source.rstrip().endswith(_SENTENCE_ENDS)
        self.sentence_end = request.final if request.final is not None else guess
        self.end_ids = set(backend.target.end_ids)
        self.sources: list[DraftSource] = [PreviousHypothesis(draft)] if draft else []
        if self.config.prompt_lookup:
            self.sources.append(PromptLookup(dynamic))
        self.draft_model = self._draft_model(backend)
        self.out: list[int] = []
        self.steps = 0
        self.finished = False

    def _draft_model(self, backend: SpeculativeBackend) -> DraftModel | None:
        if backend.draft is None:
            return None
        return DraftModel(backend.draft, self.static, self.dynamic, k=self.config.draft_k)

    def decode(self) -> tuple[list[int], int]:
        self._append(self.prefix)  # committed words are final: taken as they are, never verified
        if self.config.speculative == "stable" and self.draft and not self._pass_due():
            seen = self.draft[: self._seen()]
            if seen[: len(self.out)] == self.out:
                self._append(seen[len(self.out) :])  # kept as seen, without a pass
        while not self.finished and len(self.out) < self.limit:
            proposal = self._cheap_proposal()
            if len(proposal) < self.config.min_draft and self.draft_model is not None:
                proposal = self._model_proposal()
            if proposal and (
                len(proposal) >= self.config.min_draft or self.draft_model is not None
            ):
                self._verify(proposal)
            else:
                self._continue()
        return self.out, self.steps

    def _pass_due(self) -> bool:
        """Stable mode: whether this update verifies the seen part (beta 0 never needs to)."""
        if self.config.beta == 0:
            return False
        return self.config.verify_seen == "every" or self.sentence_end

    def _seen(self) -> int:
        """Draft tokens a reader has seen: all but the display mask (stable mode)."""
        return max(0, len(self.draft) - self.config.display_mask)

    def _cheap_proposal(self, generated: Sequence[int] | None = None) -> list[int]:
        generated = self.out if generated is None else generated
        room = self.limit - len(generated)
        for source in self.sources:
            proposal = source.propose(generated, room)
            if len(proposal) >= self.config.min_draft:
                return proposal
        return []

    def _model_proposal(self) -> list[int]:
        t0 = time.perf_counter()
        before = self.draft_model.steps
        proposal = self.draft_model.propose(self.out, self.limit - len(self.out))
        self.stats.draft_steps += self.draft_model.steps - before
        self.stats.draft_seconds += time.perf_counter() - t0
        return proposal

    def _verify(self, proposal: list[int]) -> None:
        t0 = time.perf_counter()
        first = len(self.dynamic) + len(self.out)
        scores = self.target.scores(self.static, self.dynamic + self.out + proposal, first)
        verdict = verify_draft(
            proposal,
            scores,
            beta=self._beta(),
            end_ids=self.end_ids,
            biased_until=self._biased_until(),
        )
        self.steps += 1
        self.stats.verify_passes += 1
        self.stats.proposed += len(proposal)
        self.stats.accepted += verdict.accepted
        self.stats.verify_seconds += time.perf_counter() - t0
        self._append(verdict.tokens)
        self.finished = self.finished or verdict.finished

    def _beta(self) -> float:
        return self.config.beta if self.config.speculative == "stable" else 1.0

    def _biased_until(self) -> int:
        """Proposal positions inside the seen part of the previous translation."""
        n = len(self.out)
        if self.config.speculative != "stable" or self.draft[:n] != self.out:
            return 0
        return max(0, self._seen() - n)

    def _continue(self) -> None:
        """Greedy decoding from prompt + output, until done or a source has a guess again."""
        t0 = time.perf_counter()
        stop = _Stop(self)
        ids = self.target.greedy(
            self.static, self.dynamic + self.out, self.limit - len(self.out), stop
        )
        self.steps += len(ids)
        self.stats.generated += len(ids)
        self.stats.continue_seconds += time.perf_counter() - t0
        ended = bool(ids) and ids[-1] in self.end_ids
        self._append([i for i in ids if i not in self.end_ids])
        self.finished = self.finished or ended or not ids or stop.rejoined is False

    def _append(self, tokens: Sequence[int]) -> None:
        """Add tokens with plain decoding's stopping rules: the token limit, and a
        newline after real text in a one-line source (the newline is kept, as there)."""
        for token in tokens:
            self.out.append(token)
            if len(self.out) >= self.limit or (self.single_line and self._line_done(token)):
                self.finished = True
                return

    def _line_done(self, token: int) -> bool:
        return "\n" in self.target.decode([token]) and reply_complete(self.target.decode(self.out))


class _Stop:
    """Stop rule of a continuation: the end of the line, or where a draft source can
    propose again (`rejoined`)."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.ids: list[int] = []
        self.rejoined: bool | None = False

    def __call__(self, token: int) -> bool:
        self.ids.append(token)
        run = self.run
        if token in run.end_ids:
            return True
        generated = run.out + self.ids
        if run.single_line and "\n" in run.target.decode([token]):
            if reply_complete(run.target.decode(generated)):
                return True
        if run.sources and run._cheap_proposal(generated):
            self.rejoined = None  # not finished: the loop verifies the guess next
            return True
        return False
