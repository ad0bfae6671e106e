"""Translation with an instruction-tuned LLM on CTranslate2 (`ctranslate2.Generator`).

Greedy decoding of rtt's own chat prompt (see `prompts.py`). The static part of
the prompt depends only on the language pair; the engine batches requests by
pair, so a batch shares it and CTranslate2 reuses its cached state (one cache
entry per pair: measured 140 ms to the first token against 310 ms uncached).

A request's `prefix` (committed words) is forced: its tokens end the prompt and
head the output. `request.draft` is ignored here: the speculative backend (speculative.py) wraps this one
through `speculative.SpeculationTarget` (`prompt_ids`, `greedy`, `scores`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import ctranslate2
import numpy as np
import tokenizers

from ..errors import ModelError, ModelMissingError
from .prompts import PromptTemplate, clean_output, reply_complete, template_for
from .translator import Translation, TranslationRequest
from .verify import PositionScore, position_scores

__all__ = ["CT2GeneratorBackend", "MAX_LENGTH_SPREAD", "reply_complete"]

# CTranslate2 forwards a batch's prompts at once only up to the shortest one; the
# rest of each longer prompt is fed one token per decoder step. Measured on the
# 0.5B (2 CPU threads): a 15- and a 35-token prompt took 3.2 s batched against
# 2.2 s one after the other, two 35-token prompts 2.8 s against 3.8 s. So a batch
# is split where prompt lengths differ by more than this.
MAX_LENGTH_SPREAD = 6


class CT2GeneratorBackend:
    """A `Translator` over a CTranslate2 decoder-only model folder with `tokenizer.json`."""

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 1,
        family: str = "chatml",
        max_new_tokens: int = 160,
    ) -> None:
        model_path = Path(model_path)
        self.name = f"ct2:{model_path.name}"
        self.template: PromptTemplate = template_for(family)
        self.max_new_tokens = max_new_tokens
        self.tokenizer = _load_tokenizer(model_path)
        self.generator = _load_generator(model_path, device, compute_type, threads)
        self.end_ids = self._token_ids(self.template.end_tokens)
        self._static: dict[tuple[str, str], list[str]] = {}

    def prompt_tokens(self, request: TranslationRequest) -> tuple[list[str], list[str]]:
        """(static, per-request) token strings for one request: the seam subclasses reuse."""
        pair = (request.source_lang, request.target_lang)
        static = self._static.get(pair)
        if static is None:
            static = self._static[pair] = self.template.static_tokens(self.tokenizer, *pair)
        return static, self.template.request_tokens(
            self.tokenizer, request.target_lang, request.source, request.guide
        )

    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]:
        results = [Translation("", 0, 0)] * len(requests)
        todo = [i for i, r in enumerate(requests) if r.source.strip()]
        if todo:
            generated = self.generate_ids([requests[i] for i in todo])
            for i, ids in zip(todo, generated, strict=True):
                results[i] = self.to_translation(requests[i], ids)
        return results

    def generate_ids(self, requests: Sequence[TranslationRequest]) -> list[list[int]]:
        """Greedy continuation of each request's prompt, as token ids without the end token.
        A request's forced `prefix` is folded into its prompt and heads its ids."""
        prompts = [self.prompt_tokens(r) for r in requests]
        prefixes = [self.encode(r.prefix.strip()) if r.prefix else [] for r in requests]
        limits = [self.token_limit(dynamic) for _, dynamic in prompts]
        prompts = [(s, [*d, *self._tokens(p)]) for (s, d), p in zip(prompts, prefixes)]
        out: list[list[int]] = [[] for _ in requests]
        for group in _groups(prompts, MAX_LENGTH_SPREAD):
            generated = self._generate(
                [prompts[i] for i in group],
                [requests[i] for i in group],
                [prefixes[i] for i in group],
                [limits[i] for i in group],
            )
            for i, ids in zip(group, generated, strict=True):
                out[i] = [*prefixes[i], *ids]
        return out

    def _generate(
        self,
        prompts: list[tuple[list[str], list[str]]],
        requests: list[TranslationRequest],
        prefixes: list[list[int]],
        limits: list[int],
    ) -> list[list[int]]:
        """One CTranslate2 call for prompts that share their static part."""
        if self.generator is None:
            raise ModelError(f"{self.name} is closed")
        stop = _StopWhenDone(
            self.tokenizer, limits, ["\n" not in r.source.strip() for r in requests], prefixes
        )
        try:
            results = self.generator.generate_batch(
                [dynamic for _, dynamic in prompts],
                static_prompt=prompts[0][0],
                include_prompt_in_result=False,
                beam_size=1,
                sampling_topk=1,
                max_length=max(max(1, n - len(p)) for n, p in zip(limits, prefixes)),
                end_token=self.end_ids,
                callback=stop,
            )
        except RuntimeError as exc:  # device and out-of-memory failures arrive as RuntimeError
            raise ModelError(f"{self.name}: generation failed: {exc}") from exc
        return [list(r.sequences_ids[0]) for r in results]

    def token_limit(self, dynamic: Sequence[str]) -> int:
        """Most tokens a reply to this request may take: bounds loops of small models."""
        return min(self.max_new_tokens, 2 * len(dynamic) + 16)

    def to_translation(self, request: TranslationRequest, ids: list[int]) -> Translation:
        text = clean_output(self.tokenizer.decode(ids, skip_special_tokens=True), request.source)
        # Greedy decoding takes one sequential decoder call per generated token.
        return Translation(text=text, tokens=len(ids), steps=len(ids))

    # -- what speculation needs (speculative.SpeculationTarget) -------------------------
    def prompt_ids(self, request: TranslationRequest) -> tuple[list[int], list[int]]:
        static, dynamic = self.prompt_tokens(request)
        return self._ids(static), self._ids(dynamic)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids))

    def greedy(
        self,
        static: Sequence[int],
        prefix: Sequence[int],
        max_new: int,
        stop: Callable[[int], bool] = lambda token: False,
    ) -> list[int]:
        """Greedy tokens after static + prefix (one call: the prefix is forwarded at once
        after the cached static prompt), until an end token (included), `stop(token)` or
        `max_new` tokens."""
        ids: list[int] = []

        def step(result: ctranslate2.GenerationStepResult) -> bool:
            ids.append(result.token_id)
            return result.token_id in self.end_ids or stop(result.token_id)

        try:
            self._live().generate_batch(
                [self._tokens(prefix)],
                static_prompt=self._tokens(static),
                include_prompt_in_result=False,
                beam_size=1,
                sampling_topk=1,
                max_length=max_new,
                end_token=self.end_ids,
                callback=step,
            )
        except RuntimeError as exc:
            raise ModelError(f"{self.name}: generation failed: {exc}") from exc
        return ids

    def scores(
        self, static: Sequence[int], sequence: Sequence[int], first: int
    ) -> list[PositionScore]:
        """The model at positions `first`.. of `sequence` and one past it: `forward_batch`
        has no prompt cache, so it recomputes the static prompt too."""
        full = [*static, *sequence]
        try:
            logits = self._live().forward_batch([self._tokens(full)])
        except RuntimeError as exc:
            raise ModelError(f"{self.name}: verification failed: {exc}") from exc
        rows = np.asarray(logits)[0, len(static) + first - 1 :]  # row j predicts token j + 1
        return position_scores(rows, sequence[first:])

    def _ids(self, tokens: Sequence[str]) -> list[int]:
        return [self.tokenizer.token_to_id(t) for t in tokens]

    def _tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.tokenizer.id_to_token(i) for i in ids]

    def _live(self) -> ctranslate2.Generator:
        if self.generator is None:
            raise ModelError(f"{self.name} is closed")
        return self.generator

    def close(self) -> None:
        """Free the model now, not at interpreter exit: a Generator that has run a
        step callback and is destroyed during exit sometimes aborts the process
        ("terminate called without an active exception": 3 of 20 runs, CTranslate2 4.8.5)."""
        generator, self.generator = self.generator, None
        if generator is not None:
            generator.unload_model()
            del generator

    def _token_ids(self, tokens: Sequence[str]) -> list[int]:
        ids = [self.tokenizer.token_to_id(t) for t in tokens]
        found = [i for i in ids if i is not None]
        if not found:
            raise ModelError(
                f"{self.name}: none of the end tokens {list(tokens)} is in the vocabulary"
            )
        return found


def _groups(prompts: list[tuple[list[str], list[str]]], max_spread: int) -> list[list[int]]:
    """Indices of prompts that can share one call: the same static part (language
    pair) and per-request lengths within `max_spread` tokens of each other."""
    order = sorted(range(len(prompts)), key=lambda i: (prompts[i][0], len(prompts[i][1])))
    groups: list[list[int]] = []
    for i in order:
        head = groups[-1][0] if groups else None
        if (
            head is None
            or prompts[head][0] != prompts[i][0]
            or len(prompts[i][1]) - len(prompts[head][1]) > max_spread
        ):
            groups.append([])
        groups[-1].append(i)
    return groups


class _StopWhenDone:
    """A CTranslate2 step callback that ends a sequence once its translation is complete.

    CTranslate2 stops only at an end token or `max_length`. Small models often
    finish the line and then go on ("\\n\\nNote: ...", a second translation, a
    loop), which costs a decoder call per token. A translation of one line of
    speech is one line: a newline after real text ends it. A per-request token
    limit bounds loops.
    """

    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        limits: list[int],
        single_line: list[bool],
        prefixes: list[list[int]] | None = None,  # forced ids before the generated ones
    ) -> None:
        self._tokenizer = tokenizer
        self._limits = limits
        self._single_line = single_line
        self._ids: list[list[int]] = [list(p) for p in prefixes or [[] for _ in limits]]

    def __call__(self, step: ctranslate2.GenerationStepResult) -> bool:
        ids = self._ids[step.batch_id]  # steps of a batch index arrive in order
        ids.append(step.token_id)
        if len(ids) >= self._limits[step.batch_id]:
            return True
        if self._single_line[step.batch_id] and "\n" in self._tokenizer.decode([step.token_id]):
            return reply_complete(self._tokenizer.decode(ids))
        return False


def _load_tokenizer(model_path: Path) -> tokenizers.Tokenizer:
    path = model_path / "tokenizer.json"
    if not path.is_file():
        raise ModelMissingError(f"no tokenizer.json in {model_path}; is the model provisioned?")
    try:
        return tokenizers.Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception on a bad file
        raise ModelError(f"cannot read {path}: {exc}") from exc


def _load_generator(
    model_path: Path, device: str, compute_type: str, threads: int
) -> ctranslate2.Generator:
    if not (model_path / "model.bin").is_file():
        raise ModelMissingError(f"no CTranslate2 model in {model_path}; is the model provisioned?")
    try:
        return ctranslate2.Generator(
            str(model_path),
            device=device,
            compute_type=compute_type,
            intra_threads=threads,
            inter_threads=1,
        )
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"cannot load {model_path} on {device}/{compute_type}: {exc}") from exc
