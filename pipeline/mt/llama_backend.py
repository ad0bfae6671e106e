"""Translation with an instruction-tuned LLM on llama.cpp (llama-cpp-python), from its GGUF file.

The same prompts (rtt's own template, `prompts.py`), greedy decoding, token limit,
end-of-line stop and output cleaning as the CTranslate2 backend, so both give the
same kind of `Translation`. On a CPU it decodes the 4-bit GGUF about twice as fast
as CTranslate2 int8, and its KV cache (`llama_context.py`) keeps each language
pair's static prompt, so an update reads only its own request.

Requests run one after the other (a batch shares the cached static prompt, not
one forward pass). It implements `speculative.SpeculationTarget`: verification
asks for logits at the draft's positions only, after the cached prompt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ModelError
from .llama_context import LlamaContext
from .prompts import PromptTemplate, clean_output, reply_complete, template_for
from .translator import Translation, TranslationRequest
from .verify import PositionScore, position_scores

__all__ = ["LlamaCppBackend"]


class LlamaCppBackend:
    """A `Translator` over a chat LLM's GGUF file."""

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "cpu",
        compute_type: str | None = None,  # the GGUF's own quantisation runs; kept for the seam
        threads: int = 1,
        family: str = "chatml",
        max_new_tokens: int = 160,
        n_ctx: int = 4096,
    ) -> None:
        model_path = Path(model_path)
        self.name = f"llama.cpp:{model_path.name}"
        self.template: PromptTemplate = template_for(family)
        self.max_new_tokens = max_new_tokens
        self.threads = threads
        self._lock = threading.Lock()  # one llama.cpp context: one call at a time
        self.context: LlamaContext | None = LlamaContext(
            model_path, threads=threads, n_ctx=n_ctx, gpu_layers=-1 if device == "cuda" else 0
        )
        self.end_ids = self._end_ids()
        self._static: dict[tuple[str, str], list[int]] = {}

    # -- the prompt ---------------------------------------------------------------------
    def prompt_ids(self, request: TranslationRequest) -> tuple[list[int], list[int]]:
        """(static, per-request) token ids: the static part is cached per language pair."""
        pair = (request.source_lang, request.target_lang)
        static = self._static.get(pair)
        if static is None:
            text = self.template.static_text(*pair)
            static = self._static[pair] = self._context().tokenize(text, special=True)
        dynamic = self.template.request_text(request.target_lang, request.source, request.guide)
        return static, self._context().tokenize(dynamic, special=True)

    def encode(self, text: str) -> list[int]:
        """Plain text (a draft) as ids: special-token spellings stay text."""
        return self._context().tokenize(text, special=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self._context().detokenize(ids).decode("utf-8", errors="replace")

    def token_limit(self, dynamic: Sequence[object]) -> int:
        """Most tokens a reply to this request may take: bounds loops of small models."""
        return min(self.max_new_tokens, 2 * len(dynamic) + 16)

    # -- translation --------------------------------------------------------------------
    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]:
        results = [Translation("", 0, 0)] * len(requests)
        todo = [i for i, r in enumerate(requests) if r.source.strip()]
        generated = self.generate_ids([requests[i] for i in todo])
        for i, ids in zip(todo, generated, strict=True):
            results[i] = self.to_translation(requests[i], ids)
        return results

    def generate_ids(self, requests: Sequence[TranslationRequest]) -> list[list[int]]:
        """Greedy continuation of each request's prompt, as token ids without the end token."""
        return [self._generate(r) for r in requests]

    def _generate(self, request: TranslationRequest) -> list[int]:
        """Greedy ids after the prompt; a forced `prefix` ends the prompt and heads the ids."""
        static, dynamic = self.prompt_ids(request)
        single_line = "\n" not in request.source.strip()
        prefix = self.encode(request.prefix.strip()) if request.prefix else []
        ids: list[int] = list(prefix)

        def stop(token: int) -> bool:  # CT2's _StopWhenDone: a newline after real text
            ids.append(token)
            return single_line and "\n" in self.decode([token]) and reply_complete(self.decode(ids))

        room = max(1, self.token_limit(dynamic) - len(prefix))
        out = self.greedy(static, [*dynamic, *prefix], room, stop)
        return [*prefix, *(t for t in out if t not in self.end_ids)]

    def to_translation(self, request: TranslationRequest, ids: list[int]) -> Translation:
        text = clean_output(self.decode(ids), request.source)
        return Translation(text=text, tokens=len(ids), steps=len(ids))

    # -- what speculation needs (speculative.SpeculationTarget) -------------------------
    def greedy(
        self,
        static: Sequence[int],
        prefix: Sequence[int],
        max_new: int,
        stop: Callable[[int], bool] = lambda token: False,
    ) -> list[int]:
        """Greedy tokens after static + prefix, until an end token (included), `stop(token)`
        says so (the token included) or `max_new` tokens. The cached prefix is not re-read:
        each static prompt (language pair) has its own slot in the KV cache."""
        key = tuple(static)
        sequence = [*static, *prefix]
        out: list[int] = []
        with self._lock:
            context = self._context()
            while len(out) < max_new:
                row = context.evaluate(sequence, [len(sequence) - 1], key=key)[0]
                token = int(row.argmax())
                out.append(token)
                if token in self.end_ids or stop(token):
                    break
                sequence.append(token)
        return out

    def scores(
        self, static: Sequence[int], sequence: Sequence[int], first: int
    ) -> list[PositionScore]:
        """The model at positions `first`.. of `sequence` (after `static`: the draft) and one
        past it, from logits at those positions only."""
        full = [*static, *sequence]
        start = len(static) + first - 1  # row j predicts token j + 1
        with self._lock:
            rows = self._context().evaluate(full, range(start, len(full)), key=tuple(static))
        return position_scores(rows, sequence[first:])

    def close(self) -> None:
        with self._lock:
            context, self.context = self.context, None
        if context is not None:
            context.close()

    def _context(self) -> LlamaContext:
        if self.context is None:
            raise ModelError(f"{self.name} is closed")
        return self.context

    def _end_ids(self) -> list[int]:
        found = []
        for token in self.template.end_tokens:
            ids = self._context().tokenize(token, special=True)
            if len(ids) == 1:
                found.append(ids[0])
        if not found:
            raise ModelError(
                f"{self.name}: none of the end tokens {list(self.template.end_tokens)} is in the vocabulary"
            )
        return found
